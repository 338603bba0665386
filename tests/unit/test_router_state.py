"""The router's state without a broker: what it writes to the changelog rebuilds it exactly,
and pruning writes tombstones for what it forgets."""

from __future__ import annotations

import os
import time
import uuid

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub.changelog import key_decided, key_token, pack_decided, restore, unpack_decided
from hub.control import ControlState
from hub.core import Deny, Keyring, parse_key_set
from hub.core.keys import generate_key_set
from hub.envelope import Envelope, Kind
from hub.router import Router
from hub.topics import PERSONS, STATE
from schemas.vocabulary import DenialReason

TP = TopicPartition(PERSONS, 0)


def router() -> Router:
    keys = Keyring.from_key_set(parse_key_set(generate_key_set(os.urandom)))
    r = Router("127.0.0.1:1", keys, ControlState())
    r.partitions[TP] = r._new_state(0)
    return r


def record(env: Envelope, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    value = env.to_bytes()
    return ConsumerRecord(
        PERSONS, 0, offset, int(time.time() * 1000), 0, None, value, None, 0, len(value), []
    )


def holder(person: bytes, agency: str, index: bytes) -> Envelope:
    now_us = int(time.time() * 1_000_000)
    return Envelope(Kind.HOLDER, agency, now_us, "agency.x.out/0/0", b"", person, index)


def test_the_changelog_rebuilds_the_partition_state_it_was_written_from() -> None:
    r = router()
    people = [os.urandom(16) for _ in range(3)]
    envelopes = [holder(p, a, os.urandom(16)) for p in people for a in ("mun-13101", "jps")]
    outputs = r.process(TP, [record(e, i) for i, e in enumerate(envelopes)])
    changelog = [o for o in outputs if o.topic == STATE]
    assert {o.partition for o in changelog} == {0}
    rebuilt = r._new_state(0)
    for o in changelog:
        assert o.key is not None
        restore(rebuilt, o.key, o.value)
    assert rebuilt.hub.persons == r.partitions[TP].hub.persons
    assert set(rebuilt.hub.persons[people[0]].holders) == {"mun-13101", "jps"}


def test_pruning_forgets_expired_request_ids_and_tokens_and_says_so_in_the_changelog() -> None:
    r = router()
    ps = r.partitions[TP]
    state = ps.hub
    old_request, live_request, used = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = int(time.time())
    state.processed[("mun-27100", old_request.int)] = (0, Deny(DenialReason.MALFORMED, "x"))
    state.processed[("mun-27100", live_request.int)] = (now, Deny(DenialReason.MALFORMED, "x"))
    ps.decided_batches[key_decided(5)] = 0  # the batch that decided the old request
    ps.decided_batches[key_decided(900)] = now
    state.used_tokens[used] = 1  # expired long ago
    outputs = r.process(TP, [record(holder(os.urandom(16), "jps", os.urandom(16)))])
    tombstones = {o.key for o in outputs if o.topic == STATE and o.value is None}
    assert key_decided(5) in tombstones
    assert key_token(used) in tombstones
    assert key_decided(900) not in tombstones
    assert ("mun-27100", old_request.int) not in state.processed
    assert ("mun-27100", live_request.int) in state.processed


def test_request_ids_decided_in_a_batch_travel_as_one_changelog_record() -> None:
    decided = [("mun-27100", uuid.uuid4().int), ("med-0002", uuid.uuid4().int)]
    at, back = unpack_decided(pack_decided(1_790_000_000, decided))
    assert (at, back) == (1_790_000_000, decided)
    rebuilt = router()._new_state(0)
    restore(rebuilt, key_decided(42), pack_decided(1_790_000_000, decided))
    assert set(rebuilt.hub.processed) == set(decided)
    restore(rebuilt, key_decided(42), None)
    assert key_decided(42) not in rebuilt.decided_batches
