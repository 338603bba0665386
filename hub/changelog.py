"""The router's state as a compacted changelog: one key per piece of state, latest value wins.

Keys start with one byte saying what they hold; a value of None (a tombstone) deletes:
  p + person_id          -> PersonRecord bytes
  n + blind index        -> person_id
  r + blind index        -> b"" (the number was revoked by a number change)
  Q + first input offset -> the request ids decided in that input batch, with the time
                          (idempotency; one record per batch rather than one per request)
  t + request id         -> token expiry seconds (a reply token already used)
  h                      -> chain head of this partition's provision records
  s + agency             -> last delivery sequence number to that agency from this partition
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from hub.audit import ChainHead
from hub.core import Deny, PersonRecord
from schemas.vocabulary import DenialReason

if TYPE_CHECKING:
    from hub.router import PartitionState

KEY_HEAD = b"h"
# What an idempotency entry holds when the decision itself need not be kept: the shell only
# checks that a request id was decided.
DECIDED = Deny(DenialReason.MALFORMED, "decided before")


def key_person(person_id: bytes) -> bytes:
    return b"p" + person_id


def key_number(index: bytes) -> bytes:
    return b"n" + index


def key_revoked(index: bytes) -> bytes:
    return b"r" + index


def key_decided(first_offset: int) -> bytes:
    return b"Q" + first_offset.to_bytes(8, "big")


def pack_decided(at: int, decided: list[tuple[str, int]]) -> bytes:
    """The request ids decided in one batch: time, then (request id, requester) each."""
    parts = [at.to_bytes(8, "big")]
    for requester, request_id in decided:
        name = requester.encode()
        parts.append(request_id.to_bytes(16, "big") + bytes((len(name),)) + name)
    return b"".join(parts)


def unpack_decided(value: bytes) -> tuple[int, list[tuple[str, int]]]:
    at, i, decided = int.from_bytes(value[:8], "big"), 8, []
    while i < len(value):
        request_id = int.from_bytes(value[i : i + 16], "big")
        size = value[i + 16]
        decided.append((value[i + 17 : i + 17 + size].decode(), request_id))
        i += 17 + size
    return at, decided


def key_token(request_id: uuid.UUID) -> bytes:
    return b"t" + request_id.bytes


def key_sequence(agency: str) -> bytes:
    return b"s" + agency.encode()


def value_of(ps: PartitionState, key: bytes) -> bytes | None:
    """The current value of `key` in the partition's state (None: it is gone)."""
    tag, rest = key[:1], key[1:]
    state = ps.hub
    if tag == b"p":
        record = state.persons.get(rest)
        return None if record is None else record.to_bytes()
    if tag == b"n":
        return state.numbers.get(rest)
    if tag == b"r":
        return b"" if rest in state.revoked_numbers else None
    if tag == b"Q":
        return None  # only ever written whole (Router._flush_decided) or as a tombstone
    if tag == b"t":
        expiry = state.used_tokens.get(uuid.UUID(bytes=rest))
        return None if expiry is None else expiry.to_bytes(8, "big")
    if tag == KEY_HEAD:
        return ps.head.to_bytes()
    if tag == b"s":
        n = ps.sequences.get(rest.decode())
        return None if n is None else n.to_bytes(8, "big")
    raise ValueError(f"unknown changelog key tag {tag!r}")


def restore(ps: PartitionState, key: bytes, value: bytes | None) -> None:
    """Apply one changelog record to a partition's state being rebuilt."""
    tag, rest = key[:1], key[1:]
    state = ps.hub
    if tag == b"p":
        if value is None:
            state.persons.pop(rest, None)
        else:
            state.persons[rest] = PersonRecord.from_bytes(value)
    elif tag == b"n":
        if value is None:
            state.numbers.pop(rest, None)
        else:
            state.numbers[rest] = value
    elif tag == b"r":
        if value is None:
            state.revoked_numbers.discard(rest)
        else:
            state.revoked_numbers.add(rest)
    elif tag == b"Q":
        if value is None:
            ps.decided_batches.pop(key, None)
        else:
            at, decided = unpack_decided(value)
            ps.decided_batches[key] = at
            for entry in decided:
                state.processed[entry] = (at, DECIDED)
    elif tag == b"t":
        rid = uuid.UUID(bytes=rest)
        if value is None:
            state.used_tokens.pop(rid, None)
        else:
            state.used_tokens[rid] = int.from_bytes(value, "big")
    elif tag == KEY_HEAD:
        if value is not None:
            ps.head = ChainHead.from_bytes(value)
    elif tag == b"s":
        if value is None:
            ps.sequences.pop(rest.decode(), None)
        else:
            ps.sequences[rest.decode()] = int.from_bytes(value, "big")
