"""Trust attacks on the real broker: facts from parties not entitled to assert them, dates in
the future, a suspended agency, and a forged provision record (DOMAIN.md §11, §14).

Each attack is sent as a hostile agency would send it, on its own `agency.<id>.out` topic. Each
is followed by its refusal as Kafka recorded it (a dead letter with the reason, or a denial with
its provision record) and by proof that it changed nothing: the request it aimed at is still
denied, the guardian still acts, the chain still verifies and names the forgery. Good traffic
runs in the same hub and gets through.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from hub.audit import BreakKind
from hub.cli import hub_app, read_dead_letters, read_topic, verify_chains
from hub.control import operator_metadata, publish_control
from hub.core import Keyring
from hub.core.trust import default_trust_table
from hub.deadletters import DeadLetter
from hub.service import Hub
from producers.connection import kafka_options
from schemas.codec import decode_as, encode
from schemas.consent_token import issue_consent_token
from schemas.models import (
    AgencySuspension,
    ApplicationReceived,
    AttributeQuery,
    AttributeRequest,
    ClinicalUpdate,
    ConsentGiven,
    ConsentWithdrawn,
    DependencyChanged,
    DependencyRelationship,
    EnrolmentConfirmed,
    Message,
    Notice,
    NoticeAcknowledged,
    Outcome,
    ProvisionRecord,
    ProxyRevoked,
    Relocation,
    RequestDenied,
)
from schemas.models import Change as FactChange
from schemas.provision_records import record_hash
from schemas.topics import PROVISION_RECORDS
from schemas.vocabulary import DenialReason as R

from ..hub.harness import (
    ScriptedAgency,
    control_applied,
    dev_keys,
    hub_with_agencies,
    meta,
    new_number,
    renkei,
    wait_until,
)

pytestmark = pytest.mark.kafka

MUN1, MUN2, JPS, MED1, MED2, PORTAL = (
    "mun-13101", "mun-27100", "jps", "med-0001", "med-0002", "portal",
)  # fmt: skip
ALL = (MUN1, MUN2, JPS, MED1, MED2, PORTAL)
PERSONS = ("hanako", "ward", "guardian", "patient")
PORTAL_KEY = Ed25519PrivateKey.generate()  # the portal's consent-token key; the hub trusts it
CARE = "continuity_of_care"


@dataclass
class World:
    bootstrap: str
    hub: Hub
    keys: Keyring
    agencies: dict[str, ScriptedAgency]
    codes: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (agency, person)

    def __getitem__(self, agency: str) -> ScriptedAgency:
        return self.agencies[agency]

    def code(self, agency: str, person: str) -> bytes:
        return self.codes[(agency, person)]

    async def ask(
        self, requester: str, person: str, **fields: Any
    ) -> RequestDenied | AttributeQuery:
        """The requester's outcome: its denial, or the query its provider received."""
        request = AttributeRequest(
            metadata=meta(requester), request_id=uuid.uuid4(),
            person_code=fields.pop("person_code", None) or self.code(requester, person),
            **fields,
        )  # fmt: skip
        await self[requester].send(request)
        provider = self[request.provider]
        for _ in range(1200):
            for denied in self[requester].received(RequestDenied):
                if denied.request_id == request.request_id:
                    return denied
            for query in provider.received(AttributeQuery):
                if query.metadata.correlation_id == request.metadata.message_id:
                    return query
            await asyncio.sleep(0.05)
        raise AssertionError("no outcome for the request")


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return replace(dev_keys(), consent_token_issuers={"portal-1": PORTAL_KEY.public_key()})


@pytest.fixture(scope="module")
async def world(isolated_kafka: str, keys: Keyring) -> AsyncIterator[World]:
    subscriptions = {MED2: ["ClinicalUpdate"], PORTAL: [], MUN2: ["Relocation"]}
    async with hub_with_agencies(
        isolated_kafka,
        keys,
        ALL,
        subscriptions=subscriptions,
        phases=4,  # every sector live, medical included
    ) as (hub, started):
        w = World(isolated_kafka, hub, keys, started)
        for person in PERSONS:
            number = new_number()
            for agency in ALL:
                w.codes[(agency, person)] = await started[agency].enrol(number)
        yield w


async def refused(w: World, message: Message, reason: str) -> DeadLetter:
    """The dead letter the hub wrote for `message`, with `reason` (waits for it)."""
    value = encode(message)
    for _ in range(300):
        for letter in await read_dead_letters(w.bootstrap):
            if letter.value == value:
                assert letter.reason == reason, letter.detail
                return letter
        await asyncio.sleep(0.1)
    raise AssertionError(f"no dead letter for the {message.MESSAGE_TYPE}")


def refusals_counted(agency: str, reason: str) -> float:
    labels = {"agency": agency, "reason": reason}
    return REGISTRY.get_sample_value("renkei_refused_assertions_total", labels) or 0.0


async def denied_with_record(w: World, outcome: object, reason: R) -> None:
    """A RequestDenied with `reason`, and exactly one DENIED provision record for it."""
    assert isinstance(outcome, RequestDenied), type(outcome).__name__
    assert outcome.reason is reason, outcome.message
    found: list[ProvisionRecord] = []

    def keep(_p: int, _o: int, value: bytes | None, _r: object) -> None:
        record = decode_as(value or b"", ProvisionRecord)
        if record.request_id == outcome.request_id:
            found.append(record)

    for _ in range(100):
        await read_topic(w.bootstrap, PROVISION_RECORDS, keep)
        if found:
            break
        await asyncio.sleep(0.1)
    assert [(r.outcome, r.reason) for r in found] == [(Outcome.DENIED, reason)]


def referral(w: World, publisher: str, person: str, to: str) -> ClinicalUpdate:
    return ClinicalUpdate(
        metadata=meta(publisher), person_code=w.code(publisher, person),
        document_category="referral", documented_on=date.today(), referred_to=to,
    )  # fmt: skip


def clinical_request(w: World, trigger: uuid.UUID) -> dict[str, Any]:
    return dict(provider=MED1, purpose=CARE, legal_basis_row="md-01",
                attributes=["clinical_summary"], trigger_event_id=trigger)  # fmt: skip


async def test_a_requesting_hospital_cannot_consent_for_its_patient(world: World) -> None:
    w = world
    update = referral(w, MED1, "hanako", MED2)
    await w[MED1].send(update)
    await w[MED2].expect(
        ClinicalUpdate, lambda m: m.metadata.message_id == update.metadata.message_id
    )
    before = refusals_counted(MED2, "NOT_ENTITLED")
    own = ConsentGiven(metadata=meta(MED2), person_code=w.code(MED2, "hanako"), purpose=CARE,
                       recipient=MED2)  # fmt: skip
    await w[MED2].send(own)
    letter = await refused(w, own, "NOT_ENTITLED")
    assert "consent token" in letter.detail
    assert refusals_counted(MED2, "NOT_ENTITLED") == before + 1
    # It changed nothing: the clinical summary is still refused.
    ask = clinical_request(w, update.metadata.message_id)
    await denied_with_record(w, await w.ask(MED2, "hanako", **ask), R.CONSENT_REQUIRED)
    # Good traffic: Hanako issues a consent token in the portal; the hospital presents it.
    token = issue_consent_token(
        PORTAL_KEY, "portal-1", portal_person_code=w.code(PORTAL, "hanako"), institution=MED2,
        purpose=CARE, now=datetime.now(UTC),
    )  # fmt: skip
    await w[MED2].send(own.model_copy(update={"metadata": meta(MED2), "consent_token": token}))
    assert isinstance(await w.ask(MED2, "hanako", **ask), AttributeQuery)


async def outcome_once_settled(
    w: World, requester: str, person: str, settled: type[object], **fields: Any
) -> RequestDenied | AttributeQuery:
    """Ask until the outcome is of the `settled` kind (a fact sent on another agency's topic
    is not ordered with the request by Kafka), then return it."""
    for _ in range(30):
        outcome = await w.ask(requester, person, **fields)
        if isinstance(outcome, settled):
            return outcome
        await asyncio.sleep(0.5)
    raise AssertionError(f"the outcome never became a {settled.__name__}")


async def test_a_consent_token_cannot_bring_back_a_withdrawn_consent(world: World) -> None:
    w = world
    update = referral(w, MED1, "patient", MED2)
    await w[MED1].send(update)
    await w[MED2].expect(
        ClinicalUpdate, lambda m: m.metadata.message_id == update.metadata.message_id
    )
    ask = clinical_request(w, update.metadata.message_id)

    def token_now() -> str:
        return issue_consent_token(
            PORTAL_KEY, "portal-1", portal_person_code=w.code(PORTAL, "patient"),
            institution=MED2, purpose=CARE, now=datetime.now(UTC),
        )  # fmt: skip

    token = token_now()
    presented = ConsentGiven(metadata=meta(MED2), person_code=w.code(MED2, "patient"),
                             purpose=CARE, recipient=MED2, consent_token=token)  # fmt: skip
    await w[MED2].send(presented)
    await outcome_once_settled(w, MED2, "patient", AttributeQuery, **ask)
    # The person withdraws the consent in the portal.
    await w[PORTAL].send(ConsentWithdrawn(metadata=meta(PORTAL), purpose=CARE, recipient=MED2,
                                          person_code=w.code(PORTAL, "patient")))  # fmt: skip
    await outcome_once_settled(w, MED2, "patient", RequestDenied, **ask)
    before = refusals_counted(MED2, "NOT_ENTITLED")
    # The attack: the hospital presents the token it still holds again.
    again = presented.model_copy(update={"metadata": meta(MED2)})
    await w[MED2].send(again)
    letter = await refused(w, again, "NOT_ENTITLED")
    assert "withdrew" in letter.detail
    assert refusals_counted(MED2, "NOT_ENTITLED") == before + 1
    # It changed nothing: the clinical summary is still refused, and recorded so.
    await denied_with_record(w, await w.ask(MED2, "patient", **ask), R.CONSENT_REQUIRED)
    # Good traffic: a token the person issues after withdrawing gives the consent again.
    renewed = presented.model_copy(update={"metadata": meta(MED2), "consent_token": token_now()})
    await w[MED2].send(renewed)
    await outcome_once_settled(w, MED2, "patient", AttributeQuery, **ask)


async def test_a_trigger_dated_ten_years_ahead_opens_no_window(world: World) -> None:
    w = world

    def relocation(at: datetime) -> Relocation:
        return Relocation(
            metadata=meta(MUN2, at=at), person_code=w.code(MUN2, "ward"),
            from_municipality=MUN1, to_municipality=MUN2, moved_on=date.today(),
        )  # fmt: skip

    ahead = relocation(datetime.now(UTC) + timedelta(days=3650))
    await w[MUN2].send(ahead)
    letter = await refused(w, ahead, "FUTURE_DATED")
    assert "ahead of the hub" in letter.detail
    tax = dict(provider=MUN1, purpose="resident_tax_assessment", legal_basis_row="tx-01",
               attributes=["taxable_income"])  # fmt: skip
    outcome = await w.ask(MUN2, "ward", trigger_event_id=ahead.metadata.message_id, **tax)
    await denied_with_record(w, outcome, R.NO_TRIGGER_EVENT)
    now = relocation(datetime.now(UTC))
    await w[MUN2].send(now)
    routed = await w.ask(MUN2, "ward", trigger_event_id=now.metadata.message_id, **tax)
    assert isinstance(routed, AttributeQuery)


async def test_a_municipality_cannot_make_a_hospital_a_holder_of_clinical_data(
    world: World,
) -> None:
    w = world
    forged = referral(w, MUN1, "ward", MED2)
    await w[MUN1].send(forged)
    await refused(w, forged, "NOT_ENTITLED")
    outcome = await w.ask(MED2, "ward", **clinical_request(w, forged.metadata.message_id))
    await denied_with_record(w, outcome, R.NO_TRIGGER_EVENT)
    delivered = [m for m in w[MED2].received(ClinicalUpdate)
                 if m.metadata.message_id == forged.metadata.message_id]  # fmt: skip
    assert delivered == []


async def test_a_forged_acknowledgement_reaches_no_sender(world: World) -> None:
    w = world
    never_sent = uuid.uuid4()
    from_a_municipality = NoticeAcknowledged(
        metadata=meta(MUN1), notice_id=never_sent, delivered_at=datetime.now(UTC),
        notice_sender=JPS,
    )  # fmt: skip
    from_the_portal = from_a_municipality.model_copy(update={"metadata": meta(PORTAL)})
    await w[MUN1].send(from_a_municipality)
    await w[PORTAL].send(from_the_portal)
    await refused(w, from_a_municipality, "NOT_ENTITLED")
    letter = await refused(w, from_the_portal, "NOT_ENTITLED")
    assert "receipt" in letter.detail
    # Good traffic: a real notice, opened on the portal, is confirmed to its sender.
    notice = Notice(
        metadata=meta(JPS), notice_id=uuid.uuid4(), person_code=w.code(JPS, "hanako"),
        category="pension_statement", title="ねんきん定期便", body="2026",
    )  # fmt: skip
    await w[JPS].send(notice)
    shown = await w[PORTAL].expect(Notice, lambda n: n.notice_id == notice.notice_id)
    assert shown.delivery_receipt is not None
    opened = NoticeAcknowledged(
        metadata=meta(PORTAL), notice_id=notice.notice_id, delivered_at=datetime.now(UTC),
        notice_sender=JPS, delivery_receipt=shown.delivery_receipt,
    )  # fmt: skip
    await w[PORTAL].send(opened)
    await w[JPS].expect(NoticeAcknowledged, lambda a: a.notice_id == notice.notice_id)
    assert [a for a in w[JPS].received(NoticeAcknowledged) if a.notice_id == never_sent] == []


async def test_an_agency_holding_both_persons_cannot_revoke_a_legal_guardian(
    world: World,
) -> None:
    w = world
    appointed = DependencyChanged(
        metadata=meta(MUN1), person_code=w.code(MUN1, "ward"),
        related_person_code=w.code(MUN1, "guardian"),
        relationship=DependencyRelationship.GUARDIAN, change=FactChange.ADDED,
        effective_on=date.today() - timedelta(days=1),
    )  # fmt: skip
    await w[MUN1].send(appointed)
    # Same topic and key: once this request is answered, the appointment was handled.
    tax = dict(provider=MUN2, purpose="resident_tax_assessment", legal_basis_row="tx-01",
               attributes=["taxable_income"], trigger_event_id=uuid.uuid4())  # fmt: skip
    assert isinstance(await w.ask(MUN1, "ward", **tax), RequestDenied)
    revoke = ProxyRevoked(metadata=meta(JPS), principal_code=w.code(JPS, "ward"),
                          proxy_code=w.code(JPS, "guardian"))  # fmt: skip
    await w[JPS].send(revoke)
    letter = await refused(w, revoke, "NOT_ENTITLED")
    assert "legal proxy" in letter.detail or "may not assert" in letter.detail
    # The guardian still acts for the ward.
    applied = ApplicationReceived(
        metadata=meta(JPS), person_code=w.code(JPS, "ward"),
        procedure="national_pension_premium_exemption", received_on=date.today(),
    )  # fmt: skip
    await w[JPS].send(applied)
    outcome = await w.ask(
        JPS, "ward", provider=MUN1, purpose="national_pension_premium_exemption",
        legal_basis_row="pe-01", attributes=["taxable_income"],
        trigger_event_id=applied.metadata.message_id, proxy_code=w.code(JPS, "guardian"),
    )  # fmt: skip
    assert isinstance(outcome, AttributeQuery)


async def test_a_suspended_agency_gets_no_fan_out_cannot_enrol_or_assert_until_reinstated(
    world: World,
) -> None:
    w = world

    def suspension(on: bool) -> AgencySuspension:
        return AgencySuspension(metadata=operator_metadata("ppc"), agency=MED2, suspended=on,
                                reason="investigation")  # fmt: skip

    applied = w.hub.control.applied
    await publish_control(w.bootstrap, suspension(True))
    await wait_until(control_applied(w.hub, applied + 1))
    update = referral(w, MED1, "guardian", MED2)
    await w[MED1].send(update)
    # Same topic and key after the referral: once this is answered, the referral was handled.
    barrier = await w.ask(
        MED1, "guardian", **(clinical_request(w, uuid.uuid4()) | {"provider": MED2})
    )
    assert isinstance(barrier, RequestDenied)
    assert [m for m in w[MED2].received(ClinicalUpdate)
            if m.metadata.message_id == update.metadata.message_id] == []  # fmt: skip
    enrolment = w[MED2].enrolment(new_number())
    await w[MED2].send(enrolment)
    denied = await w[MED2].expect(RequestDenied, lambda d: d.request_id == enrolment.request_id)
    await denied_with_record(w, denied, R.AGENCY_SUSPENDED)
    own_event = referral(w, MED2, "guardian", MED1)
    await w[MED2].send(own_event)
    await refused(w, own_event, "AGENCY_SUSPENDED")
    # Reinstated, it enrols again.
    await publish_control(w.bootstrap, suspension(False))
    await wait_until(control_applied(w.hub, applied + 2))
    again = w[MED2].enrolment(new_number())
    await w[MED2].send(again)
    await w[MED2].expect(EnrolmentConfirmed, lambda c: c.request_id == again.request_id)


async def test_a_forged_but_correctly_chained_provided_record_is_named_by_audit_verify(
    world: World, keys: Keyring
) -> None:
    w = world
    last: dict[int, tuple[int, ProvisionRecord]] = {}

    def keep(partition: int, offset: int, value: bytes | None, _r: object) -> None:
        last[partition] = (offset, decode_as(value or b"", ProvisionRecord))

    await read_topic(w.bootstrap, PROVISION_RECORDS, keep)
    partition, (_, previous) = sorted(last.items())[0]
    forged = previous.model_copy(
        update={
            "metadata": meta("hub"), "record_id": uuid.uuid4(), "request_id": uuid.uuid4(),
            "requester": MED2, "provider": MED1, "purpose": CARE, "legal_basis_row": "md-01",
            "attributes": ["clinical_summary"], "outcome": Outcome.PROVIDED, "reason": None,
            "chain_sequence": previous.chain_sequence + 1,
            "previous_hash": previous.record_hash, "signature": b"",
        }
    )  # fmt: skip
    forged = forged.model_copy(update={"record_hash": record_hash(forged)})
    forged = forged.model_copy(
        update={"signature": Ed25519PrivateKey.generate().sign(forged.record_hash)}
    )
    producer = AIOKafkaProducer(**kafka_options(w.bootstrap), acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(PROVISION_RECORDS, encode(forged), partition=partition)
    finally:
        await producer.stop()
    # Good traffic after the forgery: the next genuine record still chains to the last genuine.
    outcome = await w.ask(MUN2, "hanako", provider=MUN1, purpose="resident_tax_assessment",
                          legal_basis_row="tx-01", attributes=["taxable_income"],
                          trigger_event_id=uuid.uuid4())  # fmt: skip
    await denied_with_record(w, outcome, R.NO_TRIGGER_EVENT)
    report = await verify_chains(w.bootstrap, keys.record_verify_keys)
    assert [(b.kind, b.partition, b.offset) for b in report.breaks] == [
        (BreakKind.FORGED, partition, sent.offset)
    ]
    assert report.genuine == report.records - 1
    public = ",".join(
        f"{k}:{v.public_bytes_raw().hex()}" for k, v in keys.record_verify_keys.items()
    )
    result = await asyncio.to_thread(
        CliRunner().invoke, hub_app,
        ["audit", "verify", "--bootstrap", w.bootstrap, "--verify-keys", public],
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"offset {sent.offset}" in result.output
    assert "forged insertion" in result.output


async def test_a_trust_table_published_on_control_binds_the_running_hub(
    world: World, tmp_path: Path
) -> None:
    w = world
    shipped = resources.files("hub").joinpath("data/trust.json").read_text("utf-8")
    document = json.loads(shipped)
    document["version"] = "2026.2-stricter"
    for fact in document["facts"]:
        if fact["fact"] == "ConsentGiven":
            fact["asserted_by"] = []  # the portal may no longer assert a consent
    stricter, original = tmp_path / "stricter.json", tmp_path / "trust.json"
    stricter.write_text(json.dumps(document))
    original.write_text(shipped)
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "x", "facts": []}')
    publish = ("hub", "publish-trust", "--bootstrap", w.bootstrap, "--wait", "120")
    code, output = await renkei(*publish[:2], str(bad), *publish[2:])
    assert code == 1, output  # refused at the command line: nothing published
    assert "future_tolerance_seconds" in output
    code, output = await renkei(*publish[:2], str(stricter), *publish[2:])
    try:
        assert code == 0, output
        assert "1 applied, 0 refused" in output
        assert w.hub.control.trust.version == "2026.2-stricter"
        consent = ConsentGiven(metadata=meta(PORTAL), person_code=w.code(PORTAL, "ward"),
                               purpose=CARE, recipient=MED2)  # fmt: skip
        await w[PORTAL].send(consent)
        await refused(w, consent, "NOT_ENTITLED")
    finally:
        restored, said = await renkei(*publish[:2], str(original), *publish[2:])
    assert restored == 0, said
    assert w.hub.control.trust == default_trust_table()
