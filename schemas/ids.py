"""Random identifiers for messages, requests and records: version-4 UUIDs, made in half the
time of `uuid.uuid4()`.

`uuid.uuid4()` draws 16 random bytes and passes them through `UUID.__init__`, which in Python
code checks its arguments, converts and sets the version: about 1.4 µs, most of it the checks.
The hub makes two to four identifiers for every request it routes or answers (message ids,
provision-record ids), so `new_id` sets the same 128-bit value directly: the same random source
(`os.urandom`), the same version and variant bits, an ordinary `uuid.UUID` that compares,
hashes, prints and pickles like any other (the tests check it against `uuid.UUID`'s own parser).
"""

from __future__ import annotations

import os
from uuid import UUID, SafeUUID

_VERSION_BITS = (0xF000 << 64) | (0xC000 << 48)  # the version nibble and the variant bits
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, variant RFC 4122
_KEEP = ~_VERSION_BITS & ((1 << 128) - 1)
_new = object.__new__
_set = object.__setattr__  # UUID is immutable: its own __init__ sets its slots this way
_urandom = os.urandom
_from_bytes = int.from_bytes
_UNKNOWN = SafeUUID.unknown


def new_id() -> UUID:
    """A random (version 4) UUID, as `uuid.uuid4()` makes it."""
    u: UUID = _new(UUID)
    _set(u, "int", _from_bytes(_urandom(16)) & _KEEP | _VERSION_4)
    _set(u, "is_safe", _UNKNOWN)
    return u


__all__ = ["new_id"]
