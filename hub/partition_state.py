"""The router's state for one partition of the hub-internal topic, in a partition store.

Each table writes its own changelog records (to the compacted state topic, same partition
number), so a replica that takes the partition over rebuilds exactly this from Kafka:
  p  person id                  -> PersonRecord
  n  blind index                -> person id
  r  blind index                -> when the number was revoked by a number change
  d  request id, requester      -> when the request was decided, and the reply sent (replays)
                                   or, while it waits for its answer, its reply ticket
  t  request id                 -> reply token expiry (the token was used)
  s  agency                     -> last delivery sequence number to it from this partition
  b  agency                     -> the agency's rate budget here: tokens left, when counted
  h                             -> chain head of this partition's provision records
"""

from __future__ import annotations

import struct
from uuid import UUID

from hub.audit import ChainHead
from hub.control import ControlState
from hub.core import HubState, PersonRecord
from hub.core.state import Decided
from hub.core.tokens import pack_ticket, unpack_ticket
from hub.store import PartitionStore

CHAIN_HEAD = b"h"  # the changelog key of the chain head (`hub audit verify` reads it)


def _same(data: bytes) -> bytes:
    return data


def _seconds_bytes(n: int) -> bytes:
    return n.to_bytes(8, "big", signed=True)


def _seconds_of(data: bytes) -> int:
    return int.from_bytes(data, "big", signed=True)


def _decided_key(key: tuple[str, int]) -> bytes:
    requester, request_id = key
    return request_id.to_bytes(16, "big") + requester.encode()


def _decided_of(data: bytes) -> tuple[str, int]:
    return data[16:].decode(), int.from_bytes(data[:16], "big")


_BUDGET = struct.Struct(">dd")


def _budget_bytes(budget: tuple[float, float]) -> bytes:
    return _BUDGET.pack(*budget)


def _budget_of(data: bytes) -> tuple[float, float]:
    tokens, at = _BUDGET.unpack(data)
    return tokens, at


_REPLIED, _WAITING = 1, 2  # what follows the decision time: the reply, or the waiting ticket


def _decided_bytes(decided: Decided) -> bytes:
    at = _seconds_bytes(decided.at)
    if decided.reply is not None:
        return at + bytes((_REPLIED,)) + decided.reply
    if decided.ticket is not None:
        return at + bytes((_WAITING,)) + pack_ticket(decided.ticket)
    return at


def _decided_value_of(data: bytes) -> Decided:
    at = _seconds_of(data[:8])
    if len(data) > 8 and data[8] == _REPLIED:
        return Decided(at, data[9:])
    if len(data) > 8 and data[8] == _WAITING:
        return Decided(at, None, unpack_ticket(data[9:]))
    return Decided(at)


def _uuid_of(data: bytes) -> UUID:
    return UUID(bytes=data)


def _uuid_bytes(value: UUID) -> bytes:
    return value.bytes


class PartitionState(PartitionStore):
    """One router partition: its persons, blind indexes, decided requests, used tokens,
    delivery sequence numbers and provision-record chain head; `hub` is the core's view of it
    (with the broadcast parts from the control state). Each of the `partitions` holds its share
    of every agency's rate budget."""

    def __init__(self, partition: int, control: ControlState, partitions: int = 1) -> None:
        super().__init__(partition)
        self.persons = self.table(
            b"p", _same, _same, PersonRecord.to_bytes, PersonRecord.from_bytes
        )
        self.numbers = self.table(b"n", _same, _same, _same, _same)
        self.revoked = self.table(b"r", _same, _same, _seconds_bytes, _seconds_of)
        self.decided = self.table(
            b"d", _decided_key, _decided_of, _decided_bytes, _decided_value_of
        )
        self.used_tokens = self.table(b"t", _uuid_bytes, _uuid_of, _seconds_bytes, _seconds_of)
        self.sequences = self.table(b"s", str.encode, bytes.decode, _seconds_bytes, _seconds_of)
        self.budgets = self.table(b"b", str.encode, bytes.decode, _budget_bytes, _budget_of)
        self.head = self.cell(CHAIN_HEAD, ChainHead(), ChainHead.to_bytes, ChainHead.from_bytes)
        # Broadcast parts are shared by reference: a control message updates every partition.
        self.hub = HubState(
            persons=self.persons,
            numbers=self.numbers,
            revoked_numbers=self.revoked,
            agencies=control.agencies,
            suspended=control.suspended,
            rate_policy=control.rate_policy,
            budgets_set=control.budgets_set,
            processed=self.decided,
            used_tokens=self.used_tokens,
            budgets=self.budgets,
            budget_share=partitions,
        )
        self.pruned_at = 0.0
