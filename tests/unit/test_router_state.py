"""The router's state without a broker: what it writes to the changelog rebuilds it exactly,
and pruning writes tombstones for what it forgets."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub.control import ControlState, operator_metadata
from hub.core import Decided, Keyring, parse_key_set
from hub.core.keys import generate_key_set
from hub.core.state import RatePolicy
from hub.deadletters import HEADER_DETAIL, HEADER_OFFSET, HEADER_REASON
from hub.envelope import Envelope, Kind
from hub.partition_state import PartitionState
from hub.router import Router
from hub.stage import Output, stalled
from hub.topics import DEAD_LETTERS, PERSONS, PROVISION_RECORDS, STATE
from schemas.codec import decode, encode
from schemas.models import AttributeRequest, DeadLetter, Metadata, RateBudgetSet, RequestDenied
from schemas.topics import inbound
from schemas.vocabulary import DenialReason

TP = TopicPartition(PERSONS, 0)


def router() -> Router:
    keys = Keyring.from_key_set(parse_key_set(generate_key_set(os.urandom)))
    r = Router("127.0.0.1:1", keys, ControlState())
    r.partitions[TP] = r.new_state(0)
    return r


def record(env: Envelope, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    value = env.to_bytes()
    return ConsumerRecord(
        PERSONS, 0, offset, int(time.time() * 1000), 0, None, value, None, 0, len(value), []
    )


def holder(person: bytes, agency: str, index: bytes) -> Envelope:
    now_us = int(time.time() * 1_000_000)
    return Envelope(Kind.HOLDER, agency, now_us, "agency.x.out/0/0", b"", person, index)


def rebuilt_from(outputs: list[Output], partition: int = 0) -> PartitionState:
    state = PartitionState(partition, ControlState())
    for o in outputs:
        if o.topic == STATE:
            assert o.key is not None
            state.restore(o.key, o.value)
    return state


def test_the_changelog_rebuilds_the_partition_state_it_was_written_from() -> None:
    r = router()
    people = [os.urandom(16) for _ in range(3)]
    envelopes = [holder(p, a, os.urandom(16)) for p in people for a in ("mun-13101", "jps")]
    outputs = r.process(TP, [record(e, i) for i, e in enumerate(envelopes)])
    changelog = [o for o in outputs if o.topic == STATE]
    assert {o.partition for o in changelog} == {0}
    assert len(changelog) == len(people)  # one record per changed person, its latest value
    rebuilt = rebuilt_from(outputs)
    assert dict(rebuilt.persons) == dict(r.partitions[TP].persons)
    assert set(rebuilt.persons[people[0]].holders) == {"mun-13101", "jps"}


def test_pruning_forgets_expired_request_ids_and_tokens_and_says_so_in_the_changelog() -> None:
    r = router()
    ps = r.partitions[TP]
    old_request, live_request, used = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = int(time.time())
    ps.decided[("mun-27100", old_request.int)] = Decided(0)
    ps.decided[("mun-27100", live_request.int)] = Decided(now, b"the reply")
    ps.used_tokens[used] = 1  # expired long ago
    written = r.process(TP, [record(holder(os.urandom(16), "jps", os.urandom(16)))])
    tombstones = {o.key for o in written if o.topic == STATE and o.value is None}
    assert len(tombstones) == 2
    rebuilt = rebuilt_from(written)
    assert ("mun-27100", live_request.int) in rebuilt.decided
    assert ("mun-27100", old_request.int) not in ps.decided
    assert used not in ps.used_tokens
    # replayed over the state as it was, the tombstones remove exactly what pruning forgot
    before = PartitionState(0, ControlState())
    before.decided[("mun-27100", old_request.int)] = Decided(0)
    before.used_tokens[used] = 1
    for o in written:
        if o.topic == STATE:
            assert o.key is not None
            before.restore(o.key, o.value)
    assert dict(before.decided) == dict(ps.decided)
    assert dict(before.used_tokens) == dict(ps.used_tokens)


def test_a_record_the_router_fails_on_is_dead_lettered_as_internal_and_the_batch_goes_on() -> None:
    r = router()
    first, last = os.urandom(16), os.urandom(16)
    now_us = int(time.time() * 1_000_000)
    # decodable, but its request id is no UUID: the router's own code raises on it
    poison = Envelope(
        Kind.ENROL, "mun-13101", now_us, "agency.mun-13101.out/0/7", number_index=os.urandom(16),
        request_id="not-a-uuid",
    )  # fmt: skip
    batch = [
        record(holder(first, "jps", os.urandom(16)), 0),
        record(poison, 1),
        record(holder(last, "jps", os.urandom(16)), 2),
    ]
    outputs = r.process(TP, batch)
    dead = [o for o in outputs if o.topic == DEAD_LETTERS]
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert headers[HEADER_REASON] == b"INTERNAL"
    assert headers[HEADER_OFFSET] == b"1"
    assert b"ValueError" in headers[HEADER_DETAIL]
    assert b"not-a-uuid" not in headers[HEADER_DETAIL]  # the type, never the message
    written = decode(dead[0].value or b"")
    assert isinstance(written, DeadLetter)
    assert (written.reason, written.original) == ("INTERNAL", poison.to_bytes())
    assert set(r.partitions[TP].persons) == {first, last}


def test_a_failing_record_leaves_no_half_made_change_behind() -> None:
    ps = router().partitions[TP]
    person = os.urandom(16)
    ps.sequences["jps"] = 4
    ps.keep()
    ps.sequences["jps"] = 5  # a delivery was numbered, then the record failed
    ps.persons[person] = ps.hub.person(person)
    ps.take_back()
    assert ps.sequences["jps"] == 4
    assert person not in ps.persons


def request_envelope(requester: str, request_id: uuid.UUID, offset: int) -> Envelope:
    request = AttributeRequest(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender=requester),
        request_id=request_id,
        person_code=os.urandom(48),  # not a code the hub issued: denied UNKNOWN_CODE
        provider="mun-27100",
        purpose="national_health_insurance_premium",
        legal_basis_row="hi-01",
        attributes=["taxable_income"],
        trigger_event_id=uuid.uuid4(),
    )
    now_us = int(time.time() * 1_000_000)
    source = f"agency.{requester}.out/0/{offset}"
    return Envelope(Kind.MESSAGE, requester, now_us, source, encode(request))


def test_a_repeated_request_gets_the_recorded_reply_again_also_after_a_restart() -> None:
    r = router()
    request_id = uuid.uuid4()
    first = r.process(TP, [record(request_envelope("mun-13101", request_id, 0), 0)])
    replies = [o for o in first if o.topic == inbound("mun-13101")]
    assert len(replies) == 1
    assert len([o for o in first if o.topic == PROVISION_RECORDS]) == 1
    again = r.process(TP, [record(request_envelope("mun-13101", request_id, 1), 1)])
    assert [o.value for o in again if o.topic == inbound("mun-13101")] == [replies[0].value]
    assert not [o for o in again if o.topic == PROVISION_RECORDS]  # one record per request
    # a replica that takes the partition over answers the same from the changelog
    taken_over = router()
    taken_over.partitions[TP] = rebuilt_from(first + again)
    later = taken_over.process(TP, [record(request_envelope("mun-13101", request_id, 2), 2)])
    assert [o.value for o in later if o.topic == inbound("mun-13101")] == [replies[0].value]
    assert not [o for o in later if o.topic == PROVISION_RECORDS]
    denied = decode(replies[0].value or b"")
    assert isinstance(denied, RequestDenied)
    assert denied.reason is DenialReason.UNKNOWN_CODE


def denial_reasons(outputs: list[Output], requester: str = "mun-13101") -> list[str]:
    reasons = []
    for o in outputs:
        if o.topic == inbound(requester):
            reply = decode(o.value or b"")
            assert isinstance(reply, RequestDenied)
            reasons.append(reply.reason.value)
    return reasons


def dev_keyring() -> Keyring:
    return Keyring.from_key_set(parse_key_set(generate_key_set(os.urandom)))


def budgeted_router(partitions: int) -> Router:
    keys = dev_keyring()
    control = ControlState(rate_policy=RatePolicy(capacity=4, per_second=0.0001))
    return Router("127.0.0.1:1", keys, control, partitions=partitions)


def test_two_partitions_cannot_double_an_agencys_budget_and_a_restart_does_not_refill_it() -> None:
    r = budgeted_router(partitions=2)
    one, two = TopicPartition(PERSONS, 0), TopicPartition(PERSONS, 1)
    r.partitions[one], r.partitions[two] = r.new_state(0), r.new_state(1)
    written: dict[TopicPartition, list[Output]] = {one: [], two: []}
    reasons = []
    for tp in (one, two):  # forged codes are metered like routed requests
        for offset in range(3):
            envelope = request_envelope("mun-13101", uuid.uuid4(), offset)
            outputs = r.process(tp, [record(envelope, offset)])
            written[tp].extend(outputs)
            reasons.extend(denial_reasons(outputs))
    assert reasons.count("UNKNOWN_CODE") == 4  # the budget, across both partitions
    assert reasons.count("RATE_LIMITED") == 2
    restarted = budgeted_router(partitions=2)
    state = restarted.new_state(0)
    for o in written[one]:
        if o.topic == STATE:
            assert o.key is not None
            state.restore(o.key, o.value)
    restarted.partitions[one] = state
    envelope = request_envelope("mun-13101", uuid.uuid4(), 10)
    assert denial_reasons(restarted.process(one, [record(envelope, 10)])) == ["RATE_LIMITED"]


def test_a_budget_set_on_the_control_channel_binds_every_partition_already_running() -> None:
    r = Router("127.0.0.1:1", dev_keyring(), ControlState(), partitions=2)
    one, two = TopicPartition(PERSONS, 0), TopicPartition(PERSONS, 1)
    r.partitions[one], r.partitions[two] = r.new_state(0), r.new_state(1)

    def reasons(agency: str, tp: TopicPartition, count: int) -> list[str]:
        found = []
        for offset in range(count):
            envelope = request_envelope(agency, uuid.uuid4(), offset)
            found.extend(denial_reasons(r.process(tp, [record(envelope, offset)]), agency))
        return found

    budget = RateBudgetSet(metadata=operator_metadata("op-test"), agency="mun-13101", burst=2,
                           per_second=0, reason="test")  # fmt: skip
    assert r.control.apply(budget.model_copy(update={"burst": 0})) is not None  # refused
    assert r.control.apply(budget) is None
    every = RateBudgetSet(metadata=operator_metadata("op-test"), burst=6, per_second=0,
                          reason="test")  # fmt: skip
    assert r.control.apply(every) is None
    # mun-13101's own budget: one request in each partition, then refused
    assert reasons("mun-13101", one, 2) == ["UNKNOWN_CODE", "RATE_LIMITED"]
    assert reasons("mun-13101", two, 2) == ["UNKNOWN_CODE", "RATE_LIMITED"]
    # every other agency's: three in each partition
    assert reasons("mun-01100", one, 4).count("RATE_LIMITED") == 1


def test_a_partition_is_stalled_only_when_records_wait_and_nothing_was_committed_for_long() -> None:
    assert stalled(lag=5, advanced_at=0.0, now=61.0, after_s=60.0)
    assert not stalled(lag=5, advanced_at=10.0, now=61.0, after_s=60.0)
    assert not stalled(lag=0, advanced_at=0.0, now=600.0, after_s=60.0)  # idle is not stalled
