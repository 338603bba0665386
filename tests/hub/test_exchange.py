"""The hub on a real broker: the full exchange, events, dead letters, the audit chain."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from deploy.local.broker import free_port
from hub.cli import read_dead_letters, verify_chains
from hub.core import Keyring
from hub.service import Hub
from schemas.codec import decode_as, encode
from schemas.models import (
    AttributeAnswer,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    AttributeValue,
    EnrolmentConfirmed,
    IncomeDetermined,
    Outcome,
    ProvisionRecord,
    Relocation,
)
from schemas.topics import PROVISION_RECORDS, parse_sequence

from .harness import (
    HubWithAgencies,
    ScriptedAgency,
    dev_keys,
    hub_with_agencies,
    meta,
    new_number,
    onboard,
    wait_until,
)

pytestmark = pytest.mark.kafka
HTTP_PORT = free_port()

FORMER, NEW, THIRD, PENSION = "mun-13101", "mun-27100", "mun-01100", "jps"


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return dev_keys()


@pytest.fixture(scope="module")
async def running(isolated_kafka: str, keys: Keyring) -> AsyncIterator[HubWithAgencies]:
    subscriptions = {
        NEW: ["Relocation", "IncomeDetermined"],
        THIRD: ["IncomeDetermined"],
        PENSION: ["IncomeDetermined"],
    }
    async with hub_with_agencies(
        isolated_kafka,
        keys,
        (FORMER, NEW, THIRD, PENSION),
        subscriptions=subscriptions,
        phases=1,  # phase 1: tax and pension, pilot municipalities
        http_port=HTTP_PORT,
    ) as started:
        yield started


@pytest.fixture(scope="module")
def hub(running: HubWithAgencies) -> Hub:
    return running.hub


@pytest.fixture(scope="module")
def agencies(running: HubWithAgencies) -> dict[str, ScriptedAgency]:
    return running.agencies


async def read_records(bootstrap: str) -> list[ProvisionRecord]:
    from hub.cli import read_topic
    from schemas.codec import decode_as

    found: list[ProvisionRecord] = []
    await read_topic(
        bootstrap,
        PROVISION_RECORDS,
        lambda _p, _o, v, _r: found.append(decode_as(v, ProvisionRecord)),
    )
    return found


async def test_relocation_lets_the_new_municipality_read_income_from_the_former_one(
    isolated_kafka: str, agencies: dict[str, ScriptedAgency], keys: Keyring
) -> None:
    former, new = agencies[FORMER], agencies[NEW]
    number = new_number()
    former_code = await former.enrol(number)
    new_code = await new.enrol(number)
    assert former_code != new_code  # no agency sees another's identifier

    relocation = Relocation(
        metadata=meta(NEW), person_code=new_code, from_municipality=FORMER,
        to_municipality=NEW, moved_on="2026-04-01",
    )  # fmt: skip
    await new.send(relocation)
    request_id = uuid.uuid4()
    await new.send(
        AttributeRequest(
            metadata=meta(NEW), request_id=request_id, person_code=new_code, provider=FORMER,
            purpose="resident_tax_assessment", legal_basis_row="tx-01",
            attributes=["taxable_income", "dependants_count"],
            trigger_event_id=relocation.metadata.message_id,
        )
    )  # fmt: skip

    query = await former.expect(AttributeQuery)
    assert query.person_code == former_code  # the provider sees its own code only
    assert query.attributes == ["taxable_income", "dependants_count"]
    await former.send(
        AttributeAnswer(
            metadata=meta(FORMER), reply_token=query.reply_token,
            values=[
                AttributeValue(name="taxable_income", value=3_200_000),
                AttributeValue(name="dependants_count", value=1),
                AttributeValue(name="resident_tax_amount", value=180_000),  # not asked for
            ],
        )
    )  # fmt: skip

    response = await new.expect(AttributeResponse, lambda r: r.request_id == request_id)
    assert response.person_code == new_code
    assert {v.name: v.value for v in response.values} == {
        "taxable_income": 3_200_000,
        "dependants_count": 1,
    }
    records = [r for r in await read_records(isolated_kafka) if r.request_id == request_id]
    assert len(records) == 1
    record = records[0]
    assert record.outcome is Outcome.PROVIDED
    assert (record.requester, record.provider, record.legal_basis_row) == (NEW, FORMER, "tx-01")
    assert record.attributes == ["taxable_income", "dependants_count"]
    assert record.over_provided == ["resident_tax_amount"]  # dropped and recorded
    assert record.trigger_event_id == relocation.metadata.message_id
    assert record.subject_code == keys.codes.encode("portal", keys.codes.decode(NEW, new_code))
    assert b"3200000" not in encode(record)  # names, never values
    assert (await verify_chains(isolated_kafka, keys.record_verify_keys)).intact

    # A replayed answer (same token) is refused and dead-lettered, not delivered twice.
    await former.send(
        AttributeAnswer(
            metadata=meta(FORMER), reply_token=query.reply_token,
            values=[AttributeValue(name="taxable_income", value=1)],
        )
    )  # fmt: skip
    await wait_until_dead_letter(isolated_kafka, "replayed")
    assert len(new.received(AttributeResponse)) == 1
    refused = [d for d in await read_dead_letters(isolated_kafka) if "replayed" in d.detail]
    kept = decode_as(refused[0].value, AttributeAnswer)
    assert kept.values == []  # no attribute value rests in the dead-letter topic
    assert kept.not_held == ["taxable_income"]


async def wait_until_dead_letter(bootstrap: str, detail_part: str) -> None:
    import asyncio

    for _ in range(200):
        letters = await read_dead_letters(bootstrap)
        if any(detail_part in d.detail for d in letters):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no dead letter mentioning {detail_part!r}")


async def test_an_event_reaches_only_entitled_subscribers_that_hold_the_person(
    isolated_kafka: str, agencies: dict[str, ScriptedAgency]
) -> None:
    former, new, third, pension = (agencies[a] for a in (FORMER, NEW, THIRD, PENSION))
    number = new_number()
    former_code = await former.enrol(number)
    new_code = await new.enrol(number)
    await pension.enrol(number)
    event = IncomeDetermined(metadata=meta(FORMER), person_code=former_code, fiscal_year=2025)
    await former.send(event)

    def is_it(e: IncomeDetermined) -> bool:
        return e.metadata.message_id == event.metadata.message_id

    delivered = await new.expect(IncomeDetermined, is_it)
    assert delivered.person_code == new_code  # under the subscriber's own code
    assert delivered.metadata.sender == FORMER
    # Let anything else in flight arrive, then: the pension service subscribes but no row
    # entitles it to income determinations; the third municipality is entitled and subscribes
    # but does not hold the person.
    await former.enrol(new_number())
    await former.expect(
        EnrolmentConfirmed, lambda _m: len(former.received(EnrolmentConfirmed)) >= 3
    )
    assert not [e for e in pension.received(IncomeDetermined) if is_it(e)]
    assert not [e for e in third.received(IncomeDetermined) if is_it(e)]


async def test_bad_input_is_dead_lettered_with_its_bytes_and_the_hub_keeps_going(
    isolated_kafka: str, agencies: dict[str, ScriptedAgency]
) -> None:
    former = agencies[FORMER]
    garbage = b"\xc3\x01" + b"\x00" * 8 + b"not avro"
    await former.send_raw(garbage)
    spoofed = IncomeDetermined(metadata=meta(NEW), person_code=b"x" * 33, fiscal_year=2025)
    await former.send(spoofed)  # declares another agency as sender on FORMER's topic
    await wait_until_dead_letter(isolated_kafka, "declared sender")
    letters = await read_dead_letters(isolated_kafka)
    unknown = [d for d in letters if d.value == garbage]
    assert len(unknown) == 1
    assert unknown[0].reason == "UNKNOWN_SCHEMA"
    assert unknown[0].source_topic == f"agency.{FORMER}.out"
    mismatch = [d for d in letters if d.reason == "SENDER_MISMATCH"]
    assert mismatch[0].value == encode(spoofed)
    # …and the hub still answers.
    await former.enrol(new_number())


async def test_a_topic_of_an_agency_never_onboarded_is_not_listened_to(
    isolated_kafka: str, hub: Hub
) -> None:
    """The broker's ACLs keep such a topic from existing; should one exist all the same (made
    by hand, left behind), the hub still believes nothing on it."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import NewTopic

    from hub.topics import ensure_topics
    from producers.connection import kafka_options
    from schemas.models import Enrolment
    from schemas.topics import outbound

    stranger = "mun-01202"  # Hakodate: never onboarded, so never registered
    await ensure_topics(isolated_kafka, [NewTopic(outbound(stranger), 1, 1)])
    enrolment = Enrolment(metadata=meta(stranger), request_id=uuid.uuid4(),
                          individual_number=new_number())  # fmt: skip
    producer = AIOKafkaProducer(**kafka_options(isolated_kafka), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(outbound(stranger), encode(enrolment))
    finally:
        await producer.stop()
    await wait_until_dead_letter(isolated_kafka, f"{stranger} is not a registered agency")
    letters = [d for d in await read_dead_letters(isolated_kafka)
               if d.source_topic == outbound(stranger)]  # fmt: skip
    assert [d.reason for d in letters] == ["NOT_ENTITLED"]
    assert letters[0].value == encode(enrolment)  # the original bytes, for the operators


async def test_every_delivery_carries_a_gapless_sequence_per_stream(
    agencies: dict[str, ScriptedAgency],
) -> None:
    for agency in agencies.values():
        streams: dict[int, list[int]] = {}
        for header in agency.sequences():
            stream, n = parse_sequence(header)
            streams.setdefault(stream, []).append(n)
        for numbers in streams.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))


async def test_a_request_id_repeated_by_the_agency_gets_one_outcome_and_one_record(
    isolated_kafka: str, agencies: dict[str, ScriptedAgency]
) -> None:
    former, new = agencies[FORMER], agencies[NEW]
    number = new_number()
    await former.enrol(number)
    code = await new.enrol(number)
    relocation = Relocation(
        metadata=meta(NEW), person_code=code, from_municipality=FORMER, to_municipality=NEW,
        moved_on="2026-05-01",
    )  # fmt: skip
    await new.send(relocation)
    request = AttributeRequest(
        metadata=meta(NEW), request_id=uuid.uuid4(), person_code=code, provider=FORMER,
        purpose="resident_tax_assessment", legal_basis_row="tx-01",
        attributes=["taxable_income"], trigger_event_id=relocation.metadata.message_id,
    )  # fmt: skip
    await new.send(request)
    await new.send(request)  # a retry after a timeout, say
    query = await former.expect(
        AttributeQuery, lambda q: q.metadata.correlation_id == request.metadata.message_id
    )
    await former.send(
        AttributeAnswer(metadata=meta(FORMER), reply_token=query.reply_token,
                        values=[AttributeValue(name="taxable_income", value=2_100_000)])
    )  # fmt: skip
    await new.expect(AttributeResponse, lambda r: r.request_id == request.request_id)
    await former.enrol(new_number())  # let anything duplicated arrive first
    queries = [
        q for q in former.received(AttributeQuery)
        if q.metadata.correlation_id == request.metadata.message_id
    ]  # fmt: skip
    assert len(queries) == 1
    outcomes = [r for r in new.received(AttributeResponse) if r.request_id == request.request_id]
    # One outcome; a second, identical one only if the repeat reached the router after the
    # answer (it is then answered from the record, §12): never a second decision or query.
    assert 1 <= len(outcomes) <= 2
    assert all(o.model_dump(exclude={"metadata"}) == outcomes[0].model_dump(exclude={"metadata"})
               for o in outcomes)  # fmt: skip
    records = [r for r in await read_records(isolated_kafka) if r.request_id == request.request_id]
    assert len(records) == 1


async def http_get(path: str) -> tuple[int, str]:
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", HTTP_PORT)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    raw = (await reader.read()).decode()
    writer.close()
    head, _, body = raw.partition("\r\n\r\n")
    return int(head.split(" ")[1]), body


async def test_health_readiness_and_metrics_are_served_without_personal_data(
    agencies: dict[str, ScriptedAgency],
) -> None:
    assert await http_get("/healthz") == (200, "ok\n")
    assert await http_get("/readyz") == (200, "ready\n")
    status, metrics = await http_get("/metrics")
    assert status == 200
    assert 'renkei_records_in_total{stage="ingress"}' in metrics
    assert 'renkei_outcomes_total{outcome="routed",reason=""}' in metrics
    assert "renkei_transaction_commit_seconds_bucket" in metrics
    assert "renkei_consumer_lag" in metrics
    # a value on its own, not digits inside a metric's float (a `_created` timestamp once held
    # "...2798765e+09" and failed this test)
    assert not re.search(r"(?<![\d.])98765", metrics)
    assert not re.search(r"(?<![\d.])3200000", metrics)


async def test_operator_commands_read_the_real_topics(isolated_kafka: str, hub: Hub) -> None:
    import asyncio

    from typer.testing import CliRunner

    from hub.cli import hub_app

    def cli(*args: str) -> Any:  # the CLI runs its own event loop: give it a thread
        return CliRunner().invoke(hub_app, [*args, "--bootstrap", isolated_kafka])

    public = ",".join(  # what `renkei keys public` prints: no secret needed to verify
        f"{key_id}:{key.public_bytes_raw().hex()}"
        for key_id, key in hub.keys.record_verify_keys.items()
    )
    verified = await asyncio.to_thread(cli, "audit", "verify", "--verify-keys", public)
    assert verified.exit_code == 0, verified.output
    assert "intact" in verified.output
    letters = await asyncio.to_thread(cli, "dlq", "list", "--as-json")
    assert letters.exit_code == 0, letters.output
    assert {d["reason"] for d in json.loads(letters.output)} >= {"UNKNOWN_SCHEMA"}
    lag = await asyncio.to_thread(cli, "lag")
    assert lag.exit_code == 0, lag.output
    assert "router" in lag.output


async def test_an_agency_onboarded_while_the_hub_runs_is_served_without_a_restart(
    isolated_kafka: str, hub: Hub
) -> None:
    newcomer = "mun-14100"  # Yokohama joins in a later phase
    await onboard(isolated_kafka, newcomer)
    agency = ScriptedAgency(isolated_kafka, newcomer, hub.keys.public_sealing_key)
    await agency.start()
    try:
        code = await agency.enrol(new_number())  # only works once ingress subscribed its topic
    finally:
        await agency.stop()
    assert len(code) > 16


async def test_a_replayed_dead_letter_goes_back_to_its_source_topic(
    isolated_kafka: str, hub: Hub
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from hub.cli import hub_app

    def cli(*args: str) -> Any:  # the CLI runs its own event loop: give it a thread
        return CliRunner().invoke(hub_app, [*args, "--bootstrap", isolated_kafka])

    letters = await read_dead_letters(isolated_kafka)
    chosen = next(d for d in letters if d.reason == "UNKNOWN_SCHEMA")
    result = await asyncio.to_thread(cli, "dlq", "replay", str(chosen.offset))
    assert result.exit_code == 0, result.output
    for _ in range(300):
        again = [d for d in await read_dead_letters(isolated_kafka) if d.value == chosen.value]
        if len(again) >= 2:
            break
        await asyncio.sleep(0.1)
    # Still undecodable, so the hub dead-letters it again: replayed, not lost, not stuck.
    assert len(again) == 2
    assert again[1].source_topic == chosen.source_topic
    missing = await asyncio.to_thread(cli, "dlq", "replay", "999999")
    assert missing.exit_code == 2
    assert "No dead letter at offset" in missing.output


async def test_a_retried_enrolment_gets_its_recorded_reply_again_and_no_new_record(
    isolated_kafka: str, agencies: dict[str, ScriptedAgency]
) -> None:
    from schemas.models import NumberChanged, RequestDenied

    former = agencies[FORMER]
    enrolment = former.enrolment(new_number())
    old_number = new_number()
    code = await former.enrol(old_number)
    other = await agencies[NEW].enrol(old_number)
    change = former.number_changed(code, new_number())
    await former.send(change)
    # The holder's notice is committed with the revocation: after it, the old number is refused.
    await agencies[NEW].expect(NumberChanged, lambda n: n.person_code == other)
    refused = former.enrolment(old_number)
    for message in (enrolment, enrolment, refused, refused):
        await former.send(message)

    def confirmations() -> list[EnrolmentConfirmed]:
        return [c for c in former.received(EnrolmentConfirmed)
                if c.request_id == enrolment.request_id]  # fmt: skip

    def denials() -> list[RequestDenied]:
        return [d for d in former.received(RequestDenied) if d.request_id == refused.request_id]

    # Enrolments carry no key (the number is sealed), so the copies may travel on different
    # partitions of the agency's topic: wait for every answer, not for the order they were sent.
    await wait_until(lambda: len(confirmations()) >= 2 and len(denials()) >= 2, timeout=60)
    await former.enrol(new_number())  # let anything duplicated beyond them arrive too
    assert len(confirmations()) == 2
    assert confirmations()[0].person_code == confirmations()[1].person_code
    first, again = denials()  # the repeat is answered from the record: the same denial again
    assert first == again
    records = [r for r in await read_records(isolated_kafka) if r.request_id == refused.request_id]
    assert len(records) == 1


async def test_a_number_change_to_someone_elses_number_changes_nothing(
    isolated_kafka: str, agencies: dict[str, ScriptedAgency]
) -> None:

    former, new = agencies[FORMER], agencies[NEW]
    alice_number, bob_number = new_number(), new_number()
    alice = await former.enrol(alice_number)
    bob_at_new = await new.enrol(bob_number)
    await former.send(former.number_changed(alice, bob_number))
    await wait_until_dead_letter(isolated_kafka, "belongs to another person")
    # Nothing moved: Alice keeps her number, Bob keeps his, nobody was split or merged.
    assert await former.enrol(alice_number) == alice
    assert await new.enrol(bob_number) == bob_at_new
    assert await former.enrol(bob_number) != alice
