"""`renkei demo` at a small size on its own real broker, judged only by what Kafka recorded.

The demo's async entry point runs in-process (hub, reference agencies, the four phases and a
little background load); then this test reads the agencies' topics, the provision records and
the dead letters itself — not through the demo's read-back — and checks the invariants, the
scripted cases' reasons, and that the report says exactly what Kafka says.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from agencies import Portal, generate
from hub.cli import read_topic, verify_chains
from producers.connection import kafka_options
from renkei.demo import DemoConfig, DemoResult, run_demo
from renkei.demo.portal import demo_portal, showcase
from schemas import individual_number
from schemas.codec import decode, encode
from schemas.models import (
    AgencySuspension,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    Enrolment,
    EnrolmentConfirmed,
    Metadata,
    Notice,
    NoticeAcknowledged,
    ProvisionRecord,
    RequestDenied,
    RolloutChange,
    RolloutOperation,
)
from schemas.topics import CONTROL, DEAD_LETTERS, PROVISION_RECORDS, inbound, outbound

pytestmark = pytest.mark.kafka

SCRIPTED_FAILURES = {
    "SECTOR_NOT_LIVE",
    "OUTSIDE_ROLLOUT",
    "NO_LEGAL_BASIS",
    "NO_TRIGGER_EVENT",
    "UNKNOWN_CODE",
    "NUMBER_REVOKED",
    "PROXY_NOT_AUTHORISED",
    "CONSENT_REQUIRED",
}


@dataclass
class Kafka:
    """What the broker holds, counted by this test."""

    requests: dict[uuid.UUID, tuple[str, uuid.UUID, int]] = field(default_factory=dict)
    outcomes: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    records: dict[uuid.UUID, list[tuple[str, str | None]]] = field(default_factory=dict)
    queried: Counter[uuid.UUID] = field(default_factory=Counter)
    advances_ms: list[int] = field(default_factory=list)
    notices: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    # provision records of trigger events delivered under a row: the event ids
    disclosures: set[uuid.UUID] = field(default_factory=set)

    def outcome(self, request_id: uuid.UUID) -> str:
        (only,) = self.outcomes[request_id]
        return only

    def phase(self, request_id: uuid.UUID) -> int:
        at = self.requests[request_id][2]
        return sum(1 for t in self.advances_ms if t <= at)


async def read_kafka(bootstrap: str, agencies: list[str]) -> Kafka:
    k = Kafka()

    def out(_p: int, _o: int, value: bytes | None, r: Any) -> None:
        m = decode(value or b"")
        if isinstance(m, AttributeRequest):
            k.requests[m.request_id] = ("attribute", m.metadata.message_id, r.timestamp)
        elif isinstance(m, Enrolment):
            k.requests[m.request_id] = ("enrolment", m.metadata.message_id, r.timestamp)
        elif isinstance(m, NoticeAcknowledged):
            k.notices["confirmations sent"] += 1
        elif isinstance(m, Notice):
            k.notices["sent"] += 1

    def into(_p: int, _o: int, value: bytes | None, _r: Any) -> None:
        m = decode(value or b"")
        if isinstance(m, AttributeResponse):
            k.outcomes.setdefault(m.request_id, []).append("PROVIDED")
        elif isinstance(m, EnrolmentConfirmed):
            k.outcomes.setdefault(m.request_id, []).append("CONFIRMED")
        elif isinstance(m, RequestDenied):
            k.outcomes.setdefault(m.request_id, []).append(m.reason.value)
        elif isinstance(m, AttributeQuery) and m.metadata.correlation_id is not None:
            k.queried[m.metadata.correlation_id] += 1
        elif isinstance(m, Notice):
            k.notices["delivered"] += 1
        elif isinstance(m, NoticeAcknowledged):
            k.notices["confirmations delivered"] += 1

    def records(_p: int, _o: int, value: bytes | None, _r: Any) -> None:
        m = decode(value or b"")
        assert isinstance(m, ProvisionRecord)
        if m.request_id == m.trigger_event_id:  # a trigger event disclosed to its receiver
            k.disclosures.add(m.request_id)
            return
        reason = "PROVIDED" if m.reason is None else m.reason.value
        k.records.setdefault(m.request_id, []).append((reason, m.sector))

    def control(_p: int, _o: int, value: bytes | None, r: Any) -> None:
        m = decode(value or b"")
        if isinstance(m, RolloutChange) and m.operation is RolloutOperation.ADVANCE:
            k.advances_ms.append(r.timestamp)

    def dead(_p: int, _o: int, _v: bytes | None, _r: Any) -> None:
        k.dead_letters += 1

    for agency in agencies:
        await read_topic(bootstrap, outbound(agency), out)
        await read_topic(bootstrap, inbound(agency), into)
    await read_topic(bootstrap, PROVISION_RECORDS, records)
    await read_topic(bootstrap, CONTROL, control)
    await read_topic(bootstrap, DEAD_LETTERS, dead)
    return k


@dataclass
class Played:
    result: DemoResult
    kafka: Kafka
    report_dir: Path
    bootstrap: str
    portal: dict[str, Any]  # what `renkei demo --portal` showed its test identity


async def visit_the_portal(
    bootstrap: str,
    agencies: dict[str, Any],
    population: Any,
    seen: dict[str, Any],
    verify_keys: Any,
) -> None:
    """What `renkei demo --portal` offers a newcomer: sign in as the suggested test identity
    (over HTTP, as a browser would) and download the records shown."""
    scripted = agencies["portal"]
    assert isinstance(scripted, Portal)
    person = showcase(scripted, population)
    assert person is not None
    seen["showcase"] = person
    async with (
        demo_portal(
            bootstrap,
            population.seed,
            len(population.persons),
            port=0,
            hub_key=scripted.agency.producer.hub_key,
            verify_keys=verify_keys,
        ) as running,  # fmt: skip
        httpx.AsyncClient(base_url=running.url, follow_redirects=True, timeout=60) as http,
    ):
        page = await http.get("/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        await http.post("/signin", data={"csrf": csrf.group(1), "identity": person.credential})
        seen["records"] = (await http.get("/records.json")).json()["records"]


@pytest.fixture(scope="module")
async def played(isolated_kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Played:
    report_dir = tmp_path_factory.mktemp("demo")
    config = DemoConfig(persons=300, seed=7, rate=40, duration=1, report_dir=report_dir, abuse=True)
    seen: dict[str, Any] = {}

    async def then(agencies: dict[str, Any], population: Any, hub: Any) -> None:
        await visit_the_portal(
            isolated_kafka, agencies, population, seen, hub.keys.record_verify_keys
        )

    result = await run_demo(isolated_kafka, config, then=then)
    kafka = await read_kafka(isolated_kafka, result.agencies)
    return Played(result, kafka, report_dir, isolated_kafka, seen)


def attribute_requests(k: Kafka) -> list[uuid.UUID]:
    return [rid for rid, (kind, _, _) in k.requests.items() if kind == "attribute"]


async def test_a_newcomer_signs_in_to_the_demos_portal_and_sees_their_records_denials_included(
    played: Played,
) -> None:
    shown = played.portal["showcase"]
    records = played.portal["records"]
    assert sum(r["outcome"] == "PROVIDED" for r in records) == shown.provided
    assert sum(r["outcome"] == "DENIED" for r in records) == shown.denied > 0
    assert all(r["chain_verified"] for r in records)
    assert all(r["signature_verified"] for r in records)  # with the run's hub record keys
    by_request = {str(rid): outcomes for rid, outcomes in played.kafka.records.items()}
    disclosed = {str(event) for event in played.kafka.disclosures}
    for record in records:  # each one is a provision record Kafka holds about a request made
        if record["request_id"] in disclosed:  # or about a trigger event disclosed
            continue
        outcomes = [outcome for outcome, _ in by_request[record["request_id"]]]
        assert (record["reason"] or "PROVIDED") in outcomes


async def test_every_request_has_exactly_one_outcome(played: Played) -> None:
    k = played.kafka
    assert len(attribute_requests(k)) > 300
    counts = Counter(len(k.outcomes.get(rid, [])) for rid in k.requests)
    assert counts == {1: len(k.requests)}


async def test_every_outcome_has_exactly_one_provision_record(played: Played) -> None:
    k = played.kafka
    for rid, (kind, _, _) in k.requests.items():
        outcome = k.outcome(rid)
        expected = [] if kind == "enrolment" and outcome == "CONFIRMED" else [outcome]
        assert [reason for reason, _ in k.records.get(rid, [])] == expected
    assert set(k.records) <= set(k.requests)  # no record for a request nobody made


async def test_no_denied_request_reached_a_provider(played: Played) -> None:
    k = played.kafka
    denied = [rid for rid in attribute_requests(k) if k.outcome(rid) != "PROVIDED"]
    provided = [rid for rid in attribute_requests(k) if k.outcome(rid) == "PROVIDED"]
    assert denied
    assert all(k.queried[k.requests[rid][1]] == 0 for rid in denied)
    assert all(k.queried[k.requests[rid][1]] == 1 for rid in provided)


async def test_each_scripted_case_gets_its_expected_reason(played: Played) -> None:
    k = played.kafka
    scripted = [e for e in played.result.expectations if e.case is not None]
    assert {e.expected for e in scripted} >= SCRIPTED_FAILURES | {"PROVIDED"}
    for e in scripted:
        assert k.outcome(e.request_id) == e.expected, e.case
        assert k.phase(e.request_id) == e.phase, e.case
    # the proxy inside its scope is routed; outside it, refused
    proxy = {e.expected for e in scripted if "proxy" in e.case}  # type: ignore[operator]
    assert proxy == {"PROVIDED", "PROXY_NOT_AUTHORISED"}


async def test_every_request_the_scenario_made_got_what_it_expected(played: Played) -> None:
    k = played.kafka
    expectations = played.result.expectations
    assert len(expectations) == len(attribute_requests(k)) + 2  # + the two scripted enrolments
    assert [e.expected for e in expectations] == [k.outcome(e.request_id) for e in expectations]


async def test_the_reports_numbers_are_the_counts_read_back(played: Played) -> None:
    k, report = played.kafka, played.result.report
    assert len(k.advances_ms) == 4
    for row in report["phases"]:
        phase = row["phase"]
        mine = [rid for rid in attribute_requests(k) if k.phase(rid) == phase]
        outcomes = Counter(k.outcome(rid) for rid in mine)
        provided = outcomes.pop("PROVIDED", 0)
        assert (row["requests"], row["provided"], row["denied"]) == (
            len(mine),
            provided,
            sum(outcomes.values()),
        )
        assert row["denied_by_reason"] == dict(outcomes)
        sectors: dict[str, Counter[str]] = {}
        for rid in mine:
            ((reason, sector),) = k.records[rid]
            by = sectors.setdefault(sector or "no row", Counter())
            by["provided" if reason == "PROVIDED" else "denied"] += 1
        assert row["by_sector"] == {s: dict(c) for s, c in sectors.items()}
        enrolled = [rid for rid, (kind, _, _) in k.requests.items()
                    if kind == "enrolment" and k.phase(rid) == phase]  # fmt: skip
        assert row["enrolments"]["confirmed"] == sum(
            k.outcome(rid) == "CONFIRMED" for rid in enrolled
        )
        load = row["background"]  # 40/s offered for 1 s in each phase after enrolment
        if phase == 0:
            assert load is None
        else:
            assert (load["offered_per_s"], load["requests"], load["answered"]) == (40, 40, 40)
            assert load["sent_per_s"] > 0
            assert load["achieved_per_s"] > 0
            share = load["achieved_per_s"] / 40
            assert load["achieved_of_offered"] == pytest.approx(share, abs=0.002)
    invariants = report["invariants"]
    assert invariants["ok"]
    assert invariants["requests"] == invariants["with_one_outcome"] == len(k.requests)
    assert invariants["denied_requests_that_reached_a_provider"] == 0
    assert report["notices"] == {
        "sent": k.notices["sent"],
        "delivered_to_portal": k.notices["delivered"],
        "confirmations_sent": k.notices["confirmations sent"],
        "confirmations_delivered_to_sender": k.notices["confirmations delivered"],
    }
    assert report["dead_letters"] == k.dead_letters == 0
    chains = await verify_chains(played.bootstrap, played.result.record_verify_keys)
    assert chains.intact
    assert report["audit"] == {"intact": True, "records": chains.records,
                               "chains": chains.partitions, "first_break": None}  # fmt: skip
    assert chains.records == sum(len(r) for r in k.records.values()) + len(k.disclosures)


async def test_notices_reach_the_portal_and_their_confirmations_the_sender(played: Played) -> None:
    n = played.kafka.notices
    assert n["sent"] > 0
    assert n["sent"] == n["delivered"] == n["confirmations sent"] == n["confirmations delivered"]


async def test_the_report_is_written_as_json_and_markdown_without_personal_data(
    played: Played,
) -> None:

    text = (played.report_dir / "report.json").read_text() + (
        played.report_dir / "report.md"
    ).read_text()
    assert "| 4 medical, consent-based |" in text
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)  # no individual number


async def test_oversight_statistics_equal_counts_read_here_from_the_provision_records(
    played: Played,
) -> None:
    from oversight import Dimension
    from oversight.feed import connection, read_statistics

    counted: Counter[tuple[str, ...]] = Counter()
    over_provisions: Counter[str] = Counter()

    def record(_p: int, _o: int, value: bytes | None, _r: Any) -> None:
        m = decode(value or b"")
        assert isinstance(m, ProvisionRecord)
        group = (m.metadata.occurred_at.date().isoformat(), m.requester, m.purpose or "-",
                 m.legal_basis_row or "-", m.sector.value if m.sector else "-")  # fmt: skip
        if m.request_id == m.trigger_event_id:
            counted[(*group, "DISCLOSED")] += 1
        else:
            counted[(*group, m.reason_code or "PROVIDED")] += 1
        if m.over_provided and m.provider is not None:
            over_provisions[m.provider] += 1

    await read_topic(played.bootstrap, PROVISION_RECORDS, record)
    statistics = await read_statistics(connection(played.bootstrap))
    seen: Counter[tuple[str, ...]] = Counter()
    for key, counts in statistics.rows():
        if counts.provided:
            seen[(*key, "PROVIDED")] = counts.provided
        if counts.disclosed:
            seen[(*key, "DISCLOSED")] = counts.disclosed
        for reason, n in counts.denied.items():
            seen[(*key, reason)] = n
        if counts.timeouts:
            seen[(*key, "PROVIDER_TIMEOUT")] = counts.timeouts
    assert sum(counted.values()) > 300
    assert seen == counted
    by_agency = {key[1]: counts for key, counts in statistics.rows([Dimension.AGENCY])}
    assert {a: c.over_provisions for a, c in by_agency.items() if c.over_provisions} == dict(
        over_provisions
    )
    notices = played.kafka.notices
    # the command an oversight officer runs says the same, as CSV
    import asyncio
    import csv

    from typer.testing import CliRunner

    from oversight.cli import oversight_app

    args = ["stats", "--by", "agency", "--csv", "-", "--bootstrap", played.bootstrap]
    result = await asyncio.to_thread(CliRunner().invoke, oversight_app, args)
    assert result.exit_code == 0, result.output
    rows = {row["agency"]: row for row in csv.DictReader(result.output.splitlines())}
    assert {a: int(r["provided"]) for a, r in rows.items()} == {
        a: c.provided for a, c in by_agency.items()
    }
    assert sum(c.notices for c in by_agency.values()) == notices["sent"]
    assert sum(c.acknowledgements for c in by_agency.values()) == notices["confirmations sent"]


async def test_the_abuse_fires_signals_gets_the_browser_suspended_and_its_traffic_refused(
    played: Played,
) -> None:
    from oversight import Dimension
    from renkei.demo.oversight import AFTER_SUSPENSION, BROWSER, BROWSING_REQUESTS

    oversight = played.result.report["oversight"]
    assert oversight["ok"]
    assert oversight["false_positives"] == 0  # the four rollout phases fire nothing
    assert {s["agency"] for s in oversight["signals"]} == {BROWSER}
    abuse = oversight["abuse"]
    assert {"OFF_HOURS_BULK", "MANY_PERSONS_ONE_TRIGGER", "DENIAL_BURST"} <= set(
        abuse["rules_fired"]
    )
    assert abuse["suspended_by"] == "ppc"
    assert abuse["reinstated"]
    # what the report says, counted here from the provision records and the control topic
    by_reason: Counter[str] = Counter()
    suspended_at: list[int] = []

    def control(_p: int, _o: int, value: bytes | None, r: Any) -> None:
        m = decode(value or b"")
        if isinstance(m, AgencySuspension) and m.agency == BROWSER and m.suspended:
            suspended_at.append(r.timestamp)

    await read_topic(played.bootstrap, CONTROL, control)
    [suspension_ms] = suspended_at

    def records(_p: int, _o: int, value: bytes | None, _r: Any) -> None:
        m = decode(value or b"")
        assert isinstance(m, ProvisionRecord)
        if m.requester == BROWSER and m.purpose == "child_allowance":
            after = m.metadata.occurred_at.timestamp() * 1000 >= suspension_ms
            by_reason[
                ("after " if after else "") + (m.reason.value if m.reason else "PROVIDED")
            ] += 1

    await read_topic(played.bootstrap, PROVISION_RECORDS, records)
    assert by_reason["after AGENCY_SUSPENDED"] == AFTER_SUSPENSION
    assert abuse["after_suspension_by_outcome"] == {"AGENCY_SUSPENDED": AFTER_SUSPENSION}
    assert abuse["before_suspension_by_outcome"]["NO_TRIGGER_EVENT"] == BROWSING_REQUESTS - 1
    assert by_reason["NO_TRIGGER_EVENT"] == BROWSING_REQUESTS - 1
    # the oversight pages read the same from Kafka
    from oversight.feed import connection
    from oversight.web import kafka_loader

    view = await kafka_loader(connection(played.bootstrap))()
    assert {s.rule for s in view.signals} >= set(abuse["rules_fired"])
    by_agency = {key[1]: c for key, c in view.statistics.rows([Dimension.AGENCY])}
    assert by_agency[BROWSER].denied["AGENCY_SUSPENDED"] == AFTER_SUSPENSION
    assert BROWSER in view.volume.series()[1]
    signals_text = repr(oversight["signals"])
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", signals_text)  # no individual number


# Twelve ASCII digits not inside a longer hexadecimal word or UUID (ids in the changelog are
# hex, and a UUID's last group is twelve hex characters that are sometimes all digits).
_DIGIT_RUN = re.compile(rb"(?<![0-9A-Fa-f-])[0-9]{12}(?![0-9A-Fa-f-])")


def individual_numbers_in(data: bytes) -> set[bytes]:
    """Every run of exactly twelve ASCII digits with a valid check digit, standing alone: how
    an individual number looks in Avro, JSON or a header when it travels in clear."""
    return {m for m in _DIGIT_RUN.findall(data) if individual_number.is_valid(m.decode())}


async def every_record_of_every_topic(bootstrap: str) -> list[bytes]:
    """Keys, values and headers of every record on the broker, aborted transactions included."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        topics = sorted(await admin.list_topics())
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    tps = [TopicPartition(t["topic"], p["partition"]) for t in described
           for p in t["partitions"]]  # fmt: skip
    consumer = AIOKafkaConsumer(
        **kafka_options(bootstrap), enable_auto_commit=False,
        isolation_level="read_uncommitted", group_id=None,
    )  # fmt: skip
    await consumer.start()
    seen: list[bytes] = []
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5_000)
                for r in batch.get(tp, []):
                    headers = b"".join(k.encode() + v for k, v in r.headers)
                    seen.append((r.key or b"") + b"\x00" + (r.value or b"") + b"\x00" + headers)
    finally:
        await consumer.stop()
    assert set(topics) >= {PROVISION_RECORDS, DEAD_LETTERS, outbound("portal"), inbound("jps")}
    return seen


async def test_no_individual_number_rests_in_any_topic_the_agencies_own_included(
    played: Played,
) -> None:
    numbers = {p.individual_number for p in generate(7, 300).persons}
    # The scan finds a number sent in clear (as a version-1 agency would have sent it) ...
    clear = Enrolment(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="jps"),
        request_id=uuid.uuid4(),
        individual_number=min(numbers),
    )
    assert individual_numbers_in(encode(clear)) == {min(numbers).encode()}
    # ... and finds none in anything the demo left on the broker.
    records = await every_record_of_every_topic(played.bootstrap)
    assert len(records) > 1_000
    found = set().union(*(individual_numbers_in(record) for record in records))
    known = {n for n in found if n.decode() in numbers}
    assert not found, f"{len(found)} individual numbers in clear ({len(known)} of the population)"
