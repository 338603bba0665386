"""Sealed individual numbers (個人番号): how a number travels so that no Kafka log holds it.

DOMAIN.md §2: the number goes only from an agency to the hub, in `Enrolment` and in a
municipality's `NumberChanged`, sealed by the sender to the hub's public key. The sender makes a
one-time X25519 key pair, agrees a secret with the hub's public key, derives a key with HKDF-SHA-256
(salt: both public keys) and encrypts the 12 digits with ChaCha20-Poly1305. The associated data
names the message kind, the sender and the message's own id (request id or person code), so a
sealed number copied into another message, or another agency's message, does not open.

The key id travels with the sealed number, so the hub can add a sealing key and make it current
while numbers sealed to the previous one still open.

The agency SDK calls `seal_number`; the hub calls `open_sealed_number` with its private keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from schemas.models import SealedNumber

KEY_BYTES = 32
NONCE_BYTES = 12
_INFO = b"renkei sealed individual number v1"


class SealingKeyError(ValueError):
    """A hub sealing key is not in the form `<key id>:<64 hex digits>` (the operator's fault)."""


@dataclass(frozen=True, slots=True)
class HubSealingKey:
    """The hub's public sealing key as agencies are configured with it: `<key id>:<hex>`."""

    key_id: int
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> HubSealingKey:
        key_id, _, hex_key = text.strip().partition(":")
        if not key_id.isdigit() or not 1 <= int(key_id) <= 255:
            raise SealingKeyError("a hub sealing key starts with its key id (1-255) and a colon")
        try:
            public = bytes.fromhex(hex_key)
        except ValueError as exc:
            raise SealingKeyError("a hub sealing key's public key is hexadecimal") from exc
        if len(public) != KEY_BYTES:
            raise SealingKeyError(f"a hub sealing key is {KEY_BYTES} bytes")
        return cls(int(key_id), public)

    def __str__(self) -> str:
        return f"{self.key_id}:{self.public_key.hex()}"


def public_key_of(private_key: bytes) -> bytes:
    """The X25519 public key (32 bytes) of a private key (32 bytes)."""
    key = X25519PrivateKey.from_private_bytes(private_key)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def enrolment_context(sender: str, request_id: uuid.UUID) -> bytes:
    """Associated data of the number in an `Enrolment`."""
    return b"Enrolment\x00" + sender.encode() + b"\x00" + request_id.bytes


def number_change_context(sender: str, person_code: bytes) -> bytes:
    """Associated data of the new number in a `NumberChanged`."""
    return b"NumberChanged\x00" + sender.encode() + b"\x00" + person_code


def _cipher(shared: bytes, ephemeral: bytes, recipient: bytes) -> ChaCha20Poly1305:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_INFO).derive(
        shared
    )
    return ChaCha20Poly1305(key)


def seal_number(number: str, hub_key: HubSealingKey, context: bytes) -> SealedNumber:
    """Seal a (validated) number to the hub's key (agency side)."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(hub_key.public_key))
    nonce = os.urandom(NONCE_BYTES)
    cipher = _cipher(shared, ephemeral_public, hub_key.public_key)
    return SealedNumber(
        key_id=hub_key.key_id,
        ephemeral_key=ephemeral_public,
        nonce=nonce,
        ciphertext=cipher.encrypt(nonce, number.encode("ascii"), context),
    )


def open_sealed_number(
    sealed: SealedNumber, private_keys: Mapping[int, bytes], context: bytes
) -> str | None:
    """The number inside, or None when it does not open (unknown key id, altered, sealed for
    another message or sender, not ASCII). The caller still checks the check digit."""
    private = private_keys.get(sealed.key_id)
    if private is None or len(sealed.ephemeral_key) != KEY_BYTES:
        return None
    if len(sealed.nonce) != NONCE_BYTES:
        return None
    key = X25519PrivateKey.from_private_bytes(private)
    recipient = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(sealed.ephemeral_key))
        plain = _cipher(shared, sealed.ephemeral_key, recipient).decrypt(
            sealed.nonce, sealed.ciphertext, context
        )
        return plain.decode("ascii")
    except (InvalidTag, ValueError):
        return None
