"""When the hub takes a message to have arrived: the broker's append time, which the sender
cannot choose, where the topic stamps records so; the ingress clock where the sender's own
time is all a record carries. The router meters budgets and dates triggers by it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiokafka.structs import ConsumerRecord

from hub.envelope import Envelope
from hub.ingress import LOG_APPEND_TIME, Ingress
from hub.topics import TopicLayout
from schemas.codec import encode
from schemas.models import AttributeRequest, Metadata
from schemas.topics import inbound, outbound

from ..hub.harness import dev_keys

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MUN = "mun-13101"
SENT = NOW - timedelta(minutes=20)  # a backlog: sent while no hub replica ran


def _arrival(timestamp_type: int) -> datetime:
    request = AttributeRequest(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=SENT, sender=MUN),
        request_id=uuid.uuid4(), person_code=b"\x00" * 32, provider="jps",
        purpose="pension_exemption", legal_basis_row="pe-01", attributes=["taxable_income"],
        trigger_event_id=uuid.uuid4(),
    )  # fmt: skip
    value = encode(request)
    stamp = int(SENT.timestamp() * 1000)
    record = ConsumerRecord(
        outbound(MUN), 0, 7, stamp, timestamp_type, None, value, None, 0, len(value), ()
    )
    output = Ingress(dev_keys(), {MUN}).route(record, NOW)
    assert output.value is not None
    return datetime.fromtimestamp(Envelope.from_bytes(output.value).received_at_us / 1e6, UTC)


def test_a_message_the_broker_stamped_arrived_when_the_broker_took_it() -> None:
    assert _arrival(LOG_APPEND_TIME) == SENT


def test_a_message_stamped_by_its_sender_arrived_when_ingress_read_it() -> None:
    assert _arrival(0) == NOW  # CreateTime: the sender's clock counts for nothing


def test_what_an_agency_sends_is_stamped_by_the_broker() -> None:
    topics = {t.name: t.topic_configs for t in TopicLayout().agency_topics(MUN)}
    assert topics[outbound(MUN)]["message.timestamp.type"] == "LogAppendTime"
    assert "message.timestamp.type" not in topics[inbound(MUN)]
