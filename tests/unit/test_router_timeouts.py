"""The router's provider timeouts without a broker: stream time (the records' own times) and,
on an idle partition, the tick's wall time give a waiting request its one PROVIDER_TIMEOUT
outcome and record, kept in the changelog so a replay or a new owner sees it."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub.control import ControlState
from hub.core import Decided, Keyring, ReplyTicket, index_waiting, parse_key_set
from hub.core.keys import generate_key_set
from hub.envelope import Envelope, Kind
from hub.partition_state import PartitionState
from hub.router import IDLE_GRACE_S, Router
from hub.stage import Output
from hub.topics import PERSONS, PROVISION_RECORDS, STATE
from schemas.codec import decode, decode_as
from schemas.models import Outcome, ProviderTimeout, ProvisionRecord
from schemas.topics import inbound
from schemas.vocabulary import Sector

TP = TopicPartition(PERSONS, 0)
TIMEOUT = 60
ASKED_AT = 1_780_000_000  # seconds since the epoch
REQUESTER, PROVIDER = "mun-27100", "mun-13101"


def router() -> Router:
    keys = Keyring.from_key_set(parse_key_set(generate_key_set(os.urandom)))
    r = Router("127.0.0.1:1", replace(keys, token_ttl_seconds=TIMEOUT), ControlState())
    r.partitions[TP] = r.new_state(0)
    return r


def waiting_request(r: Router) -> ReplyTicket:
    """A request routed at ASKED_AT whose provider has not answered, as `record_decision`
    leaves it."""
    ticket = ReplyTicket(
        uuid.uuid4(), REQUESTER, PROVIDER, os.urandom(16), None, "resident_tax_assessment",
        "tx-01", Sector.TAX, "2026.1", ("taxable_income",), uuid.uuid4(), ASKED_AT,
    )  # fmt: skip
    ps = r.partitions[TP]
    ps.decided[(REQUESTER, ticket.request_id.int)] = Decided(ASKED_AT, None, ticket)
    index_waiting(ps.hub)
    return ticket


def record_at(seconds: int, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    """Some other record on the partition (a holder change) whose time is `seconds`."""
    env = Envelope(
        Kind.HOLDER, "jps", seconds * 1_000_000, "agency.jps.out/0/0", b"", os.urandom(16),
        os.urandom(16),
    )  # fmt: skip
    value = env.to_bytes()
    return ConsumerRecord(
        PERSONS, 0, offset, seconds * 1000, 0, None, value, None, 0, len(value), []
    )


def outcomes(outputs: list[Output]) -> list[ProviderTimeout]:
    return [
        decode_as(o.value or b"", ProviderTimeout) for o in outputs if o.topic == inbound(REQUESTER)
    ]


def records(outputs: list[Output]) -> list[ProvisionRecord]:
    return [
        decode_as(o.value or b"", ProvisionRecord) for o in outputs if o.topic == PROVISION_RECORDS
    ]


def test_stream_time_past_the_deadline_times_the_request_out_once() -> None:
    r = router()
    ticket = waiting_request(r)

    assert outcomes(r.process(TP, [record_at(ASKED_AT + TIMEOUT)])) == []  # the deadline: in time
    written = r.process(TP, [record_at(ASKED_AT + TIMEOUT + 1, 1), record_at(ASKED_AT + 999, 2)])

    (timeout,) = outcomes(written)
    assert timeout.request_id == ticket.request_id
    assert timeout.provider == PROVIDER
    assert int(timeout.deadline.timestamp()) == ASKED_AT + TIMEOUT
    (record,) = records(written)
    assert record.provider_timeout
    assert record.outcome is Outcome.DENIED
    assert record.reason is None
    assert record.attributes == ["taxable_income"]
    assert (record.requester, record.provider, record.legal_basis_row) == (
        REQUESTER,
        PROVIDER,
        "tx-01",
    )
    assert outcomes(r.process(TP, [record_at(ASKED_AT + 10_000, 3)])) == []


def test_the_recorded_timeout_survives_in_the_changelog_for_replays_and_new_owners() -> None:
    r = router()
    ticket = waiting_request(r)
    before = r.process(TP, [record_at(ASKED_AT)])
    rebuilt = PartitionState(0, ControlState())
    for o in before:
        if o.topic == STATE:
            assert o.key is not None
            rebuilt.restore(o.key, o.value)
    assert rebuilt.decided[(REQUESTER, ticket.request_id.int)].ticket == ticket  # still waiting

    after = r.process(TP, [record_at(ASKED_AT + TIMEOUT + 1, 1)])
    for o in after:
        if o.topic == STATE:
            assert o.key is not None
            rebuilt.restore(o.key, o.value)
    decided = rebuilt.decided[(REQUESTER, ticket.request_id.int)]
    assert decided.ticket is None
    assert decided.reply is not None
    assert isinstance(decode(decided.reply), ProviderTimeout)
    index_waiting(rebuilt.hub)
    assert rebuilt.hub.waiting == []


def test_an_idle_partition_is_timed_out_by_wall_time_less_the_grace() -> None:
    r = router()
    ticket = waiting_request(r)
    deadline = ASKED_AT + TIMEOUT

    # an answer the hub took in before the deadline may still be on its way
    assert outcomes(r.tick(TP, deadline + IDLE_GRACE_S)) == []
    written = r.tick(TP, deadline + IDLE_GRACE_S + 1)

    assert [t.request_id for t in outcomes(written)] == [ticket.request_id]
    assert [rec.provider_timeout for rec in records(written)] == [True]
    assert any(o.topic == STATE for o in written)  # the outcome is kept in the changelog
    assert r.tick(TP, deadline + 3600) == []
