"""The blind index (ブラインドインデックス): individual numbers kept only as a keyed hash.

The hub never stores a number: it stores HMAC-SHA-256(key, number) truncated to 16 bytes and
maps that to the internal person id. Without the key the index cannot be reversed by trying
all 10^11 valid numbers. The key cannot rotate in place (the numbers are gone); rotating it
means re-enrolment.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

INDEX_BYTES = 16
_DOMAIN = b"renkei individual number v1\x00"


def number_index(key: bytes, number: str) -> bytes:
    """The blind index of a 12-digit individual number under the hub's key."""
    return hmac.digest(key, _DOMAIN + number.encode("ascii"), sha256)[:INDEX_BYTES]
