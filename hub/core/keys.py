"""The hub's key set: link-code, blind-index, reply-token, number-sealing and record-signing
keys, with key ids for rotation, and the consent-token issuers the hub trusts.

A key set is configuration, never committed for production use. It holds *generations* of
master keys; every agency's link-code key is derived from the master of a generation and the
agency id (HKDF), so onboarding an agency needs no key-file change and each agency still has a
key of its own. A code or token carries the id (one byte, 1-255) of the generation that made it,
so a new generation can become current without invalidating anything already issued.

Parsing is pure (`parse_key_set`); `load_key_set` is the one function here that reads a file
or the environment, for the shell to call once at start-up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY_SET_FORMAT = "renkei-keys/1"
KEYS_JSON_ENV = "RENKEI_KEYS_JSON"  # the key set itself, as JSON
KEYS_FILE_ENV = "RENKEI_KEYS_FILE"  # path to a JSON key file

LINK_CODE_KEY_BYTES = 64  # AES-256-SIV
BLIND_INDEX_KEY_BYTES = 32  # HMAC-SHA-256
REPLY_TOKEN_KEY_BYTES = 64  # AES-256-SIV
SEALING_KEY_BYTES = 32  # X25519 private key: agencies seal numbers to its public half
RECORD_SIGNING_KEY_BYTES = 32  # Ed25519 private key: signs provision records
_ROTATING = {
    "link_codes": LINK_CODE_KEY_BYTES,
    "reply_tokens": REPLY_TOKEN_KEY_BYTES,
    "sealing": SEALING_KEY_BYTES,
    "record_signing": RECORD_SIGNING_KEY_BYTES,
}


class KeySetError(ValueError):
    """The key configuration is missing or invalid (the operator's fault, found at start-up)."""


@dataclass(frozen=True, slots=True)
class KeyGenerations:
    """Master keys by key id (1-255), and the id used for everything newly issued."""

    keys: Mapping[int, bytes]
    current: int

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeySetError(f"current key id {self.current} has no key")


@dataclass(frozen=True, slots=True)
class KeySet:
    purpose: str  # "development" or "production": a development set must never serve people
    link_codes: KeyGenerations
    blind_index: bytes
    reply_tokens: KeyGenerations
    sealing: KeyGenerations
    record_signing: KeyGenerations
    consent_token_issuers: Mapping[str, bytes]  # key id -> Ed25519 public key of an issuer


def _key_id(text: str, where: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 255:
        raise KeySetError(f"{where}: key id {text!r} is not a number from 1 to 255")
    return int(text)


def _key(text: object, size: int, where: str) -> bytes:
    try:
        key = bytes.fromhex(str(text))
    except ValueError as exc:
        raise KeySetError(f"{where}: key is not hexadecimal") from exc
    if len(key) != size:
        raise KeySetError(f"{where}: key must be {size} bytes, found {len(key)}")
    return key


def _generations(document: Mapping[str, Any], name: str, size: int) -> KeyGenerations:
    section = document.get(name)
    if section is None and name in ("sealing", "record_signing"):
        raise KeySetError(f"{name}: missing; add it with `renkei keys rotate --section {name}`")
    if not isinstance(section, Mapping) or not isinstance(section.get("keys"), Mapping):
        raise KeySetError(f"{name}: expected an object with 'keys' and 'current'")
    keys = {
        _key_id(kid, name): _key(value, size, f"{name} key {kid}")
        for kid, value in section["keys"].items()
    }
    return KeyGenerations(keys=keys, current=_key_id(str(section.get("current")), name))


def parse_key_set(document: Mapping[str, Any]) -> KeySet:
    """Validate a key-set document (as written by `generate_key_set`)."""
    if document.get("format") != KEY_SET_FORMAT:
        raise KeySetError(f"key set format must be {KEY_SET_FORMAT!r}")
    purpose = document.get("purpose")
    if purpose not in ("development", "production"):
        raise KeySetError("key set purpose must be 'development' or 'production'")
    return KeySet(
        purpose=str(purpose),
        link_codes=_generations(document, "link_codes", LINK_CODE_KEY_BYTES),
        blind_index=_key(document.get("blind_index"), BLIND_INDEX_KEY_BYTES, "blind_index"),
        reply_tokens=_generations(document, "reply_tokens", REPLY_TOKEN_KEY_BYTES),
        sealing=_generations(document, "sealing", SEALING_KEY_BYTES),
        record_signing=_generations(document, "record_signing", RECORD_SIGNING_KEY_BYTES),
        consent_token_issuers=_issuers(document.get("consent_token_issuers", {})),
    )


def _issuers(section: object) -> dict[str, bytes]:
    if not isinstance(section, Mapping):
        raise KeySetError("consent_token_issuers: expected an object of key id -> public key")
    issuers = {}
    for key_id, value in section.items():
        if not isinstance(key_id, str) or not key_id or "." in key_id:
            raise KeySetError("consent_token_issuers: a key id is a non-empty word without dots")
        issuers[key_id] = _key(value, 32, f"consent_token_issuers key {key_id}")
    return issuers


def generate_key_set(
    random_bytes: Callable[[int], bytes], purpose: str = "development"
) -> dict[str, Any]:
    """A fresh key-set document with one generation of each key (randomness passed in)."""
    return {
        "format": KEY_SET_FORMAT,
        "purpose": purpose,
        "link_codes": {"current": "1", "keys": {"1": random_bytes(LINK_CODE_KEY_BYTES).hex()}},
        "blind_index": random_bytes(BLIND_INDEX_KEY_BYTES).hex(),
        "reply_tokens": {"current": "1", "keys": {"1": random_bytes(REPLY_TOKEN_KEY_BYTES).hex()}},
        "sealing": {"current": "1", "keys": {"1": random_bytes(SEALING_KEY_BYTES).hex()}},
        "record_signing": {
            "current": "1",
            "keys": {"1": random_bytes(RECORD_SIGNING_KEY_BYTES).hex()},
        },
        "consent_token_issuers": {},
    }


def rotate(
    document: Mapping[str, Any], section: str, random_bytes: Callable[[int], bytes]
) -> dict[str, Any]:
    """A copy of the document with a new current generation in `section` (old ones kept; a
    missing sealing or record-signing section is created)."""
    size = _ROTATING.get(section)
    if size is None:
        raise KeySetError(f"only {', '.join(_ROTATING)} rotate; the blind index re-enrols")
    if section not in document:
        new_id, kept = 1, {}
    else:
        old = _generations(document, section, size)
        new_id, kept = max(old.keys) + 1, dict(old.keys)
    if new_id > 255:
        raise KeySetError(f"{section}: all 255 key ids are used")
    keys = {str(k): v.hex() for k, v in kept.items()} | {str(new_id): random_bytes(size).hex()}
    return {**document, section: {"current": str(new_id), "keys": keys}}


def load_key_set(environ: Mapping[str, str] | None = None) -> KeySet:
    """Read the key set named by RENKEI_KEYS_JSON or RENKEI_KEYS_FILE (start-up only)."""
    env = os.environ if environ is None else environ
    text = env.get(KEYS_JSON_ENV)
    if text is None:
        path = env.get(KEYS_FILE_ENV)
        if path is None:
            raise KeySetError(f"no key set: set {KEYS_FILE_ENV} or {KEYS_JSON_ENV}")
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise KeySetError(f"cannot read key file {path}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeySetError("key set is not valid JSON") from exc
    if not isinstance(document, dict):
        raise KeySetError("key set must be a JSON object")
    return parse_key_set(document)
