"""The hub's network to its broker cut and restored while it commits (DOMAIN.md §12).

A secured single-node broker advertises, for a second client listener, the address of a TCP
proxy on loopback (`KafkaCluster(advertise_through=…)`); the hub bootstraps at the proxy, so
every connection it has (its stages' consumers and transactional producers, the control reader,
its acknowledgements) runs through it, while the agencies and the checks connect directly.
Under a steady stream of enrolments and requests the proxy is cut twice: for 3 s (connections
reset, then re-made) and for 15 s, longer than the hub's 10 s group session, so the broker
drops the replica from its groups and it must rejoin with new transactional producers that
fence the old ones. Afterwards every request has exactly one outcome, nothing was lost or
delivered twice, and the provision records' chains verify.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from deploy.local.broker import BrokerError, BrokerSecurity, KafkaCluster, free_port
from hub.cli import read_topic, verify_chains
from hub.service import Hub
from schemas.codec import decode_as
from schemas.models import AttributeRequest, EnrolmentConfirmed, ProvisionRecord, RequestDenied
from schemas.topics import PROVISION_RECORDS
from schemas.vocabulary import DenialReason

from ..hub.harness import (
    ScriptedAgency,
    advance_rollout,
    dev_keys,
    meta,
    new_number,
    onboard,
    running_hub,
    wait_until,
)
from ..tcp_proxy import TcpProxy

pytestmark = pytest.mark.kafka

AGENCIES = ("mun-13101", "mun-27100")
PER_SECOND = 20  # enrolments per agency per second while the cuts happen
CUTS = (3.0, 15.0)  # seconds; the second outlasts the hub's 10 s group session


@pytest.fixture(scope="module")
async def proxied(broker_security: BrokerSecurity) -> AsyncIterator[tuple[KafkaCluster, TcpProxy]]:
    port = free_port()
    cluster = KafkaCluster(1, security=broker_security, advertise_through=f"127.0.0.1:{port}")
    try:
        await asyncio.to_thread(cluster.start)
    except BrokerError as exc:
        pytest.fail(f"no Kafka broker for the connection-cut test: {exc}", pytrace=False)
    proxy = TcpProxy(port, cluster.proxied_listener)
    await proxy.start()
    try:
        yield cluster, proxy
    finally:
        await proxy.stop()
        await asyncio.to_thread(cluster.stop)


def failed_transactions() -> float:
    return sum(
        REGISTRY.get_sample_value("renkei_transactions_total", {"stage": s, "result": "failed"})
        or 0.0
        for s in ("ingress", "router")
    )


def producers_of(hub: Hub) -> set[int]:
    """Identities of the transactional producers the hub's stages hold now."""
    return {id(p) for stage in hub.stages for p in stage._producers.values()}


async def test_a_cut_connection_loses_nothing_duplicates_nothing_and_replaces_the_producers(
    proxied: tuple[KafkaCluster, TcpProxy],
) -> None:
    cluster, proxy = proxied
    direct = cluster.bootstrap
    keys = dev_keys()
    for agency in AGENCIES:
        await onboard(direct, agency)
    await advance_rollout(direct, 4)
    agencies = [ScriptedAgency(direct, a, keys.public_sealing_key) for a in AGENCIES]
    enrolled: dict[str, list[uuid.UUID]] = {a: [] for a in AGENCIES}
    asked: dict[str, list[uuid.UUID]] = {a: [] for a in AGENCIES}
    sending = asyncio.Event()
    sending.set()

    async def steadily(agency: ScriptedAgency, other: str, code: bytes) -> None:
        """An enrolment (confirmed, no record) and a request the hub denies (one record: it
        cites no real event) at a steady pace."""
        while sending.is_set():
            enrolment = agency.enrolment(new_number())
            await agency.send(enrolment)
            enrolled[agency.id].append(enrolment.request_id)
            request = AttributeRequest(
                metadata=meta(agency.id), request_id=uuid.uuid4(), person_code=code,
                provider=other, purpose="resident_tax_assessment", legal_basis_row="tx-01",
                attributes=["taxable_income"], trigger_event_id=uuid.uuid4(),
            )  # fmt: skip
            await agency.send(request)
            asked[agency.id].append(request.request_id)
            await asyncio.sleep(1 / PER_SECOND)

    def outcomes(agency: ScriptedAgency) -> list[uuid.UUID]:
        return [m.request_id for m in agency.received(EnrolmentConfirmed)] + [
            m.request_id for m in agency.received(RequestDenied)
        ]

    async with running_hub(proxy.address, keys) as hub:
        for agency in agencies:
            await agency.start()
        try:
            codes = [await agency.enrol(new_number()) for agency in agencies]
            enrolled_first = {a.id: [m.request_id for m in a.received(EnrolmentConfirmed)]
                              for a in agencies}  # fmt: skip
            senders = [
                asyncio.create_task(steadily(agency, other.id, code))
                for agency, other, code in zip(agencies, agencies[::-1], codes, strict=True)
            ]
            before = producers_of(hub)
            failed_before = failed_transactions()
            for seconds in CUTS:
                # cut while commits are under way: outcomes are flowing
                flowing = sum(len(outcomes(a)) for a in agencies) + 20
                await wait_until(lambda f=flowing: sum(len(outcomes(a)) for a in agencies) >= f,
                                 timeout=180)  # fmt: skip
                accepted = proxy.accepted
                await proxy.cut()
                await asyncio.sleep(seconds)
                await proxy.restore()
                await wait_until(lambda a=accepted: proxy.accepted > a, timeout=60)
            await asyncio.sleep(5)  # traffic after the last cut
            sending.clear()
            await asyncio.gather(*senders)
            for agency in agencies:
                expected = len(enrolled_first[agency.id] + enrolled[agency.id] + asked[agency.id])
                await wait_until(lambda a=agency, n=expected: len(outcomes(a)) >= n, timeout=300)
            await asyncio.sleep(3)  # a duplicate would arrive meanwhile
            after = producers_of(hub)
        finally:
            for agency in agencies:
                await agency.stop()

    for agency in agencies:  # one outcome each, none lost, none twice
        confirmed = [m.request_id for m in agency.received(EnrolmentConfirmed)]
        assert sorted(confirmed) == sorted(enrolled_first[agency.id] + enrolled[agency.id])
        denied = agency.received(RequestDenied)
        assert sorted(d.request_id for d in denied) == sorted(asked[agency.id])
        assert {d.reason for d in denied} == {DenialReason.NO_TRIGGER_EVENT}
    assert before
    assert after
    assert not before & after, "the stages still use a producer from before the cuts"

    requested = {r for ids in asked.values() for r in ids}
    records: collections.Counter[uuid.UUID] = collections.Counter()

    def count(_p: int, _o: int, value: bytes | None, _r: object) -> None:
        record = decode_as(value or b"", ProvisionRecord)
        if record.request_id in requested:
            records[record.request_id] += 1

    await read_topic(direct, PROVISION_RECORDS, count)
    assert set(records) == requested
    assert set(records.values()) == {1}
    report = await verify_chains(direct, keys.record_verify_keys)
    assert report.intact, report.breaks
    print(
        f"\nconnection cut: {sum(map(len, enrolled.values()))} enrolments and "
        f"{len(requested)} requests, cuts of {CUTS} s, {proxy.accepted} connections through "
        f"the proxy, {failed_transactions() - failed_before:.0f} failed transactions, "
        f"{len(before)} producers before the cuts, {len(after)} after (all new), "
        f"{report.records} provision records intact"
    )
