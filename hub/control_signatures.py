"""Control is authenticated twice: by the broker's ACL and by an Ed25519 signature.

Only `operator` and `ppc` may write the control topic (hub.access), and besides every control
command carries, in the record header `renkei-signature`, an Ed25519 signature over its exact
bytes: rollout changes, legal-basis tables, agency registrations and retirements by the
operators' key, suspensions by the oversight body's (ppc) key. The hub holds only the two
public keys, so a leaked broker credential alone cannot steer it, and the ppc cannot publish a
table. A signed command is applied once (hub/core/control_replay.py).

Keys are files named by configuration, never code:

- `RENKEI_OPERATOR_KEY_FILE` (operators): the private key (PEM, PKCS#8) that signs commands;
- `RENKEI_PPC_KEY_FILE` (the oversight body): the private key that signs suspensions;
- `RENKEI_OPERATOR_PUBLIC_KEY_FILE`, `RENKEI_PPC_PUBLIC_KEY_FILE` (every hub replica): the two
  public keys it trusts.

`renkei keys control --out DIR` makes a development pair of each.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.models import (
    AgencyRegistered,
    AgencyRetired,
    AgencySuspension,
    LegalBasisTablePublished,
    Message,
    RateBudgetSet,
    RolloutChange,
    TrustTablePublished,
)

SIGNATURE_HEADER = "renkei-signature"
_CONTEXT = b"renkei-control-v1\x00"  # a signature made for anything else never verifies here


class Signer(StrEnum):
    OPERATOR = "operator"
    PPC = "ppc"


PRIVATE_SETTING = {Signer.OPERATOR: "RENKEI_OPERATOR_KEY_FILE", Signer.PPC: "RENKEI_PPC_KEY_FILE"}
PUBLIC_SETTING = {
    Signer.OPERATOR: "RENKEI_OPERATOR_PUBLIC_KEY_FILE",
    Signer.PPC: "RENKEI_PPC_PUBLIC_KEY_FILE",
}


class ControlKeyError(ValueError):
    """A control key is not configured or not readable (the operator's configuration)."""


class Refusal(StrEnum):
    """Why a control record is not applied (a metric label and a log field)."""

    UNSIGNED = "unsigned"
    WRONG_SIGNATURE = "wrong_signature"
    NOT_A_COMMAND = "not_a_command"
    MALFORMED = "malformed"
    REFUSED_BY_RULE = "refused_by_rule"
    REPLAYED = "replayed"  # a signed command's message id came before (hub/core/control_replay)
    STALE = "stale"  # appended long after it was signed


def required_signer(message: Message) -> Signer | None:
    """Whose key must sign `message`; None for anything that is no control command."""
    match message:
        case AgencySuspension():
            return Signer.PPC
        case (
            RolloutChange()
            | LegalBasisTablePublished()
            | TrustTablePublished()
            | AgencyRegistered()
            | AgencyRetired()
            | RateBudgetSet()
        ):
            return Signer.OPERATOR
        case _:
            return None


def sign(key: Ed25519PrivateKey, value: bytes) -> bytes:
    return key.sign(_CONTEXT + value)


@dataclass(frozen=True)
class ControlTrust:
    """The public keys a hub replica trusts."""

    keys: Mapping[Signer, Ed25519PublicKey]

    def check(self, message: Message, value: bytes, signature: bytes | None) -> Refusal | None:
        """None if `value` (which decoded to `message`) is signed by the key its type needs."""
        signer = required_signer(message)
        if signer is None:
            return Refusal.NOT_A_COMMAND
        if not signature:
            return Refusal.UNSIGNED
        try:
            self.keys[signer].verify(signature, _CONTEXT + value)
        except InvalidSignature:
            return Refusal.WRONG_SIGNATURE
        return None


@dataclass(frozen=True)
class ControlSigning:
    """The private keys this process may sign with (an operator's, the ppc's, or both)."""

    keys: Mapping[Signer, Ed25519PrivateKey]

    def signature(self, message: Message, value: bytes) -> bytes:
        signer = required_signer(message)
        if signer is None:
            raise ControlKeyError(f"{message.MESSAGE_TYPE} is not a control command")
        key = self.keys.get(signer)
        if key is None:
            raise ControlKeyError(
                f"{message.MESSAGE_TYPE} must be signed by the {signer.value} key: set "
                f"{PRIVATE_SETTING[signer]} to its file"
            )
        return sign(key, value)


def _read(setting: str, environ: Mapping[str, str]) -> bytes | None:
    name = environ.get(setting)
    if not name:
        return None
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ControlKeyError(f"{setting} names no readable file ({name})") from exc


def load_trust(environ: Mapping[str, str] | None = None) -> ControlTrust:
    """The hub's trusted public keys; both are required."""
    environ = os.environ if environ is None else environ
    keys: dict[Signer, Ed25519PublicKey] = {}
    for signer, setting in PUBLIC_SETTING.items():
        pem = _read(setting, environ)
        if pem is None:
            raise ControlKeyError(
                f"the hub trusts no {signer.value} key: set {setting} (make a development pair "
                "with `renkei keys control --out DIR`)"
            )
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise ControlKeyError(f"{setting}: not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ControlKeyError(f"{setting}: not an Ed25519 public key")
        keys[signer] = key
    return ControlTrust(keys)


def load_signing(environ: Mapping[str, str] | None = None) -> ControlSigning:
    """Whichever private keys are configured (checked when a message needs one)."""
    environ = os.environ if environ is None else environ
    keys: dict[Signer, Ed25519PrivateKey] = {}
    for signer, setting in PRIVATE_SETTING.items():
        pem = _read(setting, environ)
        if pem is None:
            continue
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ControlKeyError(f"{setting}: not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ControlKeyError(f"{setting}: not an Ed25519 private key")
        keys[signer] = key
    return ControlSigning(keys)


def generate_control_keys(directory: Path) -> dict[str, str]:
    """A development key pair for each signer in `directory` (private files mode 0600); the
    RENKEI_* settings that name them."""
    directory.mkdir(parents=True, exist_ok=True)
    settings: dict[str, str] = {}
    for signer in Signer:
        key = Ed25519PrivateKey.generate()
        private = directory / f"{signer.value}.key"
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        public = directory / f"{signer.value}.pub"
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        settings[PRIVATE_SETTING[signer]] = str(private)
        settings[PUBLIC_SETTING[signer]] = str(public)
    return settings
