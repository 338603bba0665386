"""Growing the hub's partition count rebuilds its state; it never splits a person from it.

On a broker of this module's own: a hub on 3 partitions learns eight persons (enrolments at two
municipalities and a relocation each), stops, and `repartition` grows it to 6. The hub on 6
then recognises every number (same codes) and serves each person's request triggered by the
relocation it saw before the migration; a hub started on the old count is refused.
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from hub.cli import verify_chains
from hub.layout import LayoutMismatch, read_recorded
from hub.repartition import RepartitionRefused, backup_topic, partition_of, repartition
from hub.service import Hub, HubConfig
from hub.topics import PERSONS, TopicLayout
from producers.connection import kafka_options
from schemas.models import (
    AttributeAnswer,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    AttributeValue,
    Relocation,
    RequestDenied,
)
from schemas.vocabulary import DenialReason

from .harness import (
    control_applied,
    dev_keys,
    meta,
    new_number,
    onboard_agencies,
    running_hub,
    started_agencies,
    wait_until,
)

pytestmark = pytest.mark.kafka
FORMER, NEW = "mun-13101", "mun-27100"


def _request(person_code: bytes, relocation: Relocation, attributes: list[str]) -> AttributeRequest:
    return AttributeRequest(
        metadata=meta(NEW), request_id=uuid.uuid4(), person_code=person_code, provider=FORMER,
        purpose="resident_tax_assessment", legal_basis_row="tx-01", attributes=attributes,
        trigger_event_id=relocation.metadata.message_id,
    )  # fmt: skip


async def test_growing_from_3_to_6_partitions_keeps_every_person_with_their_state(
    isolated_kafka: str,
) -> None:
    keys = dev_keys()
    subscriptions = {NEW: ["Relocation"]}
    await onboard_agencies(isolated_kafka, (FORMER, NEW), subscriptions=subscriptions, phases=1)
    people: list[tuple[str, bytes, bytes, Relocation]] = []
    async with started_agencies(isolated_kafka, keys, (FORMER, NEW)) as started:
        former, new = started[FORMER], started[NEW]
        async with running_hub(isolated_kafka, keys, partitions=3) as hub:
            await wait_until(control_applied(hub, 3))
            for _ in range(8):
                number = new_number()
                former_code, new_code = await former.enrol(number), await new.enrol(number)
                relocation = Relocation(
                    metadata=meta(NEW), person_code=new_code, from_municipality=FORMER,
                    to_municipality=NEW, moved_on="2026-04-01",
                )  # fmt: skip
                await new.send(relocation)
                # Asking beyond the row is denied after the relocation was taken in (same
                # partition, in order): the router has built this person's state.
                beyond = _request(
                    new_code, relocation, ["taxable_income", "pension_benefit_amount"]
                )
                await new.send(beyond)
                denied = await new.expect(
                    RequestDenied, lambda d, r=beyond: r.request_id == d.request_id
                )
                assert denied.reason is DenialReason.NO_LEGAL_BASIS
                people.append((number, former_code, new_code, relocation))
            with pytest.raises(RepartitionRefused, match="stop every hub replica first"):
                await repartition(isolated_kafka, 6, replication=1)

        with pytest.raises(RepartitionRefused, match="only grows"):
            await repartition(isolated_kafka, 3, replication=1)
        done = await repartition(isolated_kafka, 6, replication=1)
        assert (done.old, done.new, done.backup) == (3, 6, backup_topic(3))
        assert done.moved > 0  # some persons' state really changed partition
        assert await read_recorded(isolated_kafka) == 6

        async with running_hub(isolated_kafka, keys, partitions=6) as hub:
            await wait_until(control_applied(hub, 3))
            for number, former_code, _new_code, _relocation in people:
                assert await former.enrol(number) == former_code  # the number is still known
            for _number, former_code, new_code, relocation in people:
                request = _request(new_code, relocation, ["taxable_income"])
                await new.send(request)
                query = await former.expect(
                    AttributeQuery, lambda q, c=former_code: q.person_code == c
                )
                await former.send(
                    AttributeAnswer(
                        metadata=meta(FORMER), reply_token=query.reply_token,
                        values=[AttributeValue(name="taxable_income", value=2_000_000)],
                    )
                )  # fmt: skip
                response = await new.expect(
                    AttributeResponse, lambda r, q=request: r.request_id == q.request_id
                )
                assert response.person_code == new_code
        assert (await verify_chains(isolated_kafka, keys.record_verify_keys)).intact

    # The old count is refused from now on, and so is a bare alter of the new one.
    with pytest.raises(LayoutMismatch, match="--partitions 3"):
        await Hub(HubConfig(isolated_kafka, TopicLayout(hub_partitions=3)), keys).run()
    admin = AIOKafkaAdminClient(**kafka_options(isolated_kafka))
    await admin.start()
    try:
        await admin.create_partitions({PERSONS: NewPartitions(8)})
    finally:
        await admin.close()
    with pytest.raises(LayoutMismatch, match=r"renkei\.hub\.persons has 8"):
        await Hub(HubConfig(isolated_kafka, TopicLayout(hub_partitions=6)), keys).run()


def test_state_is_placed_where_the_java_client_would_partition_its_key() -> None:
    # murmur2 values from Apache Kafka's own UtilsTest (the Java client's partitioner)
    for key, java_hash in ((b"21", -973932308), (b"foobar", -790332482)):
        for count in (3, 6, 24):
            assert partition_of(key, count) == (java_hash & 0x7FFFFFFF) % count
