"""The SDK on a real broker, with the test playing the hub by hand (no hub, no mocks)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from prometheus_client import REGISTRY

from consumers import Agency, AgencyConfig, Gap, HandlerFailed, Values
from producers import Connection, ReplyTimeout, WrongSender
from schemas import individual_number
from schemas.models import (
    ApplicationReceived,
    AttributeAnswer,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    AttributeValue,
    ClinicalUpdate,
    Enrolment,
    EnrolmentConfirmed,
    IncomeDetermined,
    Metadata,
    Notice,
    NoticeAcknowledged,
    ProviderTimeout,
    Relocation,
    RequestDenied,
)
from schemas.vocabulary import DenialReason

from .hub_by_hand import HubByHand, hub_metadata, new_agency_id, until

pytestmark = pytest.mark.kafka

CODE = b"\x01code-of-a-person"


@pytest.fixture
async def hub(kafka_bootstrap: str) -> AsyncIterator[HubByHand]:
    async with HubByHand(kafka_bootstrap, new_agency_id()) as by_hand:
        yield by_hand


def agency_for(hub: HubByHand, **options: object) -> Agency:
    config = AgencyConfig(
        hub.agency_id,
        Connection.from_environment(hub.bootstrap),
        hub_key=hub.hub_key,
        **options,  # type: ignore[arg-type]
    )
    return Agency(config)


def query(attributes: list[str], purpose: str = "continuity_of_care") -> AttributeQuery:
    return AttributeQuery(
        metadata=hub_metadata(),
        person_code=CODE,
        purpose=purpose,
        legal_basis_row="md-01",
        attributes=attributes,
        reply_token=uuid.uuid4().bytes,
    )


async def test_enrolment_returns_the_confirmation_with_the_agencys_link_code(
    hub: HubByHand,
) -> None:
    number = individual_number.generate()
    async with agency_for(hub) as agency:
        pending = asyncio.create_task(agency.enrol(number))
        enrolment = await hub.from_agency(Enrolment)
        assert enrolment.metadata.sender == hub.agency_id
        assert enrolment.individual_number == ""  # never in clear on the agency's topic
        assert hub.number_in(enrolment) == number
        await hub.deliver(
            EnrolmentConfirmed(
                metadata=hub_metadata(), request_id=enrolment.request_id, person_code=CODE
            )
        )
        outcome = await pending
    assert isinstance(outcome, EnrolmentConfirmed)
    assert outcome.person_code == CODE


async def test_outcomes_are_correlated_by_request_id_whatever_their_order(hub: HubByHand) -> None:
    async with agency_for(hub) as agency:
        trigger = uuid.uuid4()

        def ask(provider: str) -> asyncio.Task[AttributeResponse | RequestDenied]:
            return asyncio.create_task(
                agency.request_attributes(
                    person_code=CODE,
                    provider=provider,
                    purpose="continuity_of_care",
                    legal_basis_row="md-01",
                    attributes=["clinical_summary"],
                    trigger_event_id=trigger,
                )
            )

        first, second = ask("med-0001"), ask("med-0002")
        requests = {}
        for _ in range(2):
            request = await hub.from_agency(AttributeRequest)
            requests[request.provider] = request
        # the hub answers the second request first, and denies the first
        await hub.deliver(
            AttributeResponse(
                metadata=hub_metadata(),
                request_id=requests["med-0002"].request_id,
                person_code=CODE,
                provider="med-0002",
                values=[AttributeValue(name="clinical_summary", value="stable")],
            )
        )
        await hub.deliver(
            RequestDenied(
                metadata=hub_metadata(),
                request_id=requests["med-0001"].request_id,
                reason=DenialReason.CONSENT_REQUIRED,
                message="no live consent",
            )
        )
        denied, provided = await first, await second
    assert isinstance(denied, RequestDenied)
    assert denied.reason is DenialReason.CONSENT_REQUIRED
    assert isinstance(provided, AttributeResponse)
    assert provided.values == [AttributeValue(name="clinical_summary", value="stable")]


async def test_a_request_without_outcome_times_out_and_a_late_outcome_is_harmless(
    hub: HubByHand,
) -> None:
    async with agency_for(hub, reply_timeout=1.0) as agency:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ReplyTimeout) as timed_out:
            await agency.request_attributes(
                person_code=CODE,
                provider="med-0001",
                purpose="continuity_of_care",
                legal_basis_row="md-01",
                attributes=["clinical_summary"],
                trigger_event_id=uuid.uuid4(),
            )
        assert 1.0 <= loop.time() - started < 10
        request = await hub.from_agency(AttributeRequest)
        assert timed_out.value.request_id == request.request_id
        assert CODE.hex() not in str(timed_out.value)
        await hub.deliver(
            RequestDenied(
                metadata=hub_metadata(),
                request_id=request.request_id,
                reason=DenialReason.RATE_LIMITED,
                message="late",
            )
        )
        # the agency keeps working after the unmatched outcome
        pending = asyncio.create_task(agency.enrol(individual_number.generate()))
        enrolment = await hub.from_agency(Enrolment)
        await hub.deliver(
            EnrolmentConfirmed(
                metadata=hub_metadata(), request_id=enrolment.request_id, person_code=CODE
            )
        )
        assert isinstance(await pending, EnrolmentConfirmed)
        assert len(agency.producer.replies) == 0


async def test_a_provider_timeout_is_the_awaited_outcome_of_an_attribute_request(
    hub: HubByHand,
) -> None:
    async with agency_for(hub) as agency:
        pending = asyncio.create_task(
            agency.request_attributes(
                person_code=CODE,
                provider="med-0001",
                purpose="continuity_of_care",
                legal_basis_row="md-01",
                attributes=["clinical_summary"],
                trigger_event_id=uuid.uuid4(),
            )
        )
        request = await hub.from_agency(AttributeRequest)
        deadline = datetime.now(UTC)
        await hub.deliver(
            ProviderTimeout(
                metadata=hub_metadata(),
                request_id=request.request_id,
                provider="med-0001",
                deadline=deadline,
                message="med-0001 did not answer within 604800 s",
            )
        )
        outcome = await pending
    assert isinstance(outcome, ProviderTimeout)
    assert outcome.request_id == request.request_id
    assert outcome.provider == "med-0001"
    assert outcome.deadline == deadline


async def test_a_forged_or_unsolicited_outcome_is_refused_and_the_hubs_own_is_awaited(
    hub: HubByHand,
) -> None:
    """Whoever slipped past the broker's ACLs into the inbox still cannot answer for the hub:
    an outcome not declared by the hub, or answering no request this agency sent, is refused
    and reaches no handler; the hub's own denial is what the caller receives."""
    agency = agency_for(hub)
    handled: list[AttributeResponse] = []

    @agency.on(AttributeResponse)
    async def careless(response: AttributeResponse) -> None:
        handled.append(response)

    def forged(request_id: uuid.UUID, sender: str) -> AttributeResponse:
        metadata = hub_metadata().model_copy(update={"sender": sender})
        return AttributeResponse(
            metadata=metadata, request_id=request_id, person_code=CODE, provider="mun-27100",
            values=[AttributeValue(name="taxable_income", value=9_999_999)],
        )  # fmt: skip

    async with agency:
        pending = asyncio.create_task(
            agency.request_attributes(
                person_code=CODE, provider="mun-27100", purpose="child_allowance",
                legal_basis_row="ca-01", attributes=["taxable_income"],
                trigger_event_id=uuid.uuid4(),
            )
        )  # fmt: skip
        request = await hub.from_agency(AttributeRequest)
        await hub.deliver(forged(request.request_id, sender="mun-27100"), key=CODE)
        await hub.deliver(forged(uuid.uuid4(), sender="hub"), key=CODE)  # answers nothing
        await hub.deliver(
            RequestDenied(metadata=hub_metadata(), request_id=request.request_id,
                          reason=DenialReason.NO_TRIGGER_EVENT, message="no such event"),
            key=CODE,
        )  # fmt: skip
        outcome = await asyncio.wait_for(pending, 30)
    assert isinstance(outcome, RequestDenied)
    assert outcome.reason is DenialReason.NO_TRIGGER_EVENT
    assert handled == []


async def test_a_query_is_answered_with_its_token_only_what_was_asked_and_not_held(
    hub: HubByHand,
) -> None:
    agency = agency_for(hub)

    @agency.query("clinical_summary", "medication_list", "allergy_list")
    async def clinical(q: AttributeQuery) -> Values:
        assert q.person_code == CODE
        return {"clinical_summary": "referral letter", "allergy_list": None, "medication_list": []}

    async with agency:
        asked = query(["clinical_summary", "allergy_list"])
        await hub.deliver(asked, key=CODE)
        answer = await hub.from_agency(AttributeAnswer)
    assert answer.metadata.sender == hub.agency_id
    assert answer.metadata.correlation_id == asked.metadata.message_id
    assert answer.reply_token == asked.reply_token
    assert answer.values == [AttributeValue(name="clinical_summary", value="referral letter")]
    assert answer.not_held == ["allergy_list"]


async def test_a_query_nobody_handles_is_answered_as_not_held(hub: HubByHand) -> None:
    async with agency_for(hub):
        asked = query(["medication_list"])
        await hub.deliver(asked)
        answer = await hub.from_agency(AttributeAnswer)
    assert answer.values == []
    assert answer.not_held == ["medication_list"]


def gap_count(agency_id: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "renkei_agency_missing_messages_total", {"agency": agency_id, "stream": "2"}
        )
        or 0.0
    )


async def test_a_gap_in_the_hubs_sequence_is_reported_per_stream(hub: HubByHand) -> None:
    agency = agency_for(hub)
    gaps: list[Gap] = []
    received: list[uuid.UUID] = []

    @agency.on_gap
    async def report(gap: Gap) -> None:
        gaps.append(gap)

    @agency.on(IncomeDetermined)
    async def income(event: IncomeDetermined) -> None:
        received.append(event.metadata.message_id)

    def event() -> IncomeDetermined:
        return IncomeDetermined(metadata=hub_metadata(), person_code=CODE, fiscal_year=2025)

    async with agency:
        for n in (1, 2, 5, 6):
            await hub.deliver(event(), stream=2, seq=n)
        for n in (1, 2):
            await hub.deliver(event(), stream=9, seq=n)
        await until(lambda: len(received) >= 6)
    assert gaps == [Gap(stream=2, expected=3, received=5)]
    assert gap_count(hub.agency_id) == 2


async def test_events_reach_their_typed_handlers_and_bad_records_are_skipped(
    hub: HubByHand,
) -> None:
    agency = agency_for(hub)
    relocations: list[Relocation] = []
    clinical: list[ClinicalUpdate] = []

    @agency.on(Relocation)
    async def moved(event: Relocation) -> None:
        relocations.append(event)

    @agency.on(ClinicalUpdate)
    async def documented(event: ClinicalUpdate) -> None:
        clinical.append(event)

    moved_in = Relocation(
        metadata=Metadata(
            message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="mun-13101"
        ),
        person_code=CODE,
        from_municipality="mun-27100",
        to_municipality="mun-13101",
        moved_on=date(2026, 4, 1),
    )
    async with agency:
        await hub.deliver(b"\xc3\x01 not a message")
        await hub.deliver(
            ApplicationReceived(  # no handler: skipped, not an error
                metadata=hub_metadata(), person_code=CODE, procedure="x", received_on=date.today()
            )
        )
        await hub.deliver(moved_in)
        await hub.deliver(
            ClinicalUpdate(
                metadata=hub_metadata(),
                person_code=CODE,
                document_category="referral",
                documented_on=date.today(),
            )
        )
        await until(lambda: bool(relocations and clinical))
    assert relocations == [moved_in]
    assert relocations[0].metadata.sender == "mun-13101"


async def test_a_failing_handler_stops_the_agency_and_its_record_comes_back(
    hub: HubByHand,
) -> None:
    event = IncomeDetermined(metadata=hub_metadata(), person_code=CODE, fiscal_year=2025)
    failing = agency_for(hub)

    @failing.on(IncomeDetermined)
    async def broken(e: IncomeDetermined) -> None:
        raise RuntimeError("bug in the adapter")

    await failing.start()
    await hub.deliver(event)
    with pytest.raises(HandlerFailed) as failed:
        async with asyncio.timeout(20):
            await failing.wait()
    assert isinstance(failed.value.__cause__, RuntimeError)
    with pytest.raises(HandlerFailed):
        await failing.stop()

    # the same consumer group, restarted with a fixed handler, gets the record again
    fixed = agency_for(hub)
    seen: list[IncomeDetermined] = []

    @fixed.on(IncomeDetermined)
    async def works(e: IncomeDetermined) -> None:
        seen.append(e)

    async with fixed:
        await until(lambda: bool(seen))
    assert seen == [event]


async def test_a_handler_may_itself_request_and_await_the_outcome(hub: HubByHand) -> None:
    agency = agency_for(hub)
    outcomes: list[AttributeResponse | RequestDenied] = []

    @agency.on(ClinicalUpdate)
    async def referred(event: ClinicalUpdate) -> None:
        outcomes.append(
            await agency.request_attributes(
                person_code=event.person_code,
                provider="med-0002",
                purpose="continuity_of_care",
                legal_basis_row="md-01",
                attributes=["clinical_summary"],
                trigger_event_id=event.metadata.message_id,
            )
        )

    async with agency:
        update = ClinicalUpdate(
            metadata=hub_metadata(),
            person_code=CODE,
            document_category="referral",
            documented_on=date.today(),
        )
        await hub.deliver(update, key=CODE)
        request = await hub.from_agency(AttributeRequest)
        assert request.trigger_event_id == update.metadata.message_id
        await hub.deliver(
            RequestDenied(
                metadata=hub_metadata(),
                request_id=request.request_id,
                reason=DenialReason.CONSENT_REQUIRED,
                message="no consent",
            ),
            key=CODE,
        )
        await until(lambda: bool(outcomes))
    assert isinstance(outcomes[0], RequestDenied)


async def test_events_and_notices_are_published_keyed_by_person_and_acknowledged(
    hub: HubByHand,
) -> None:
    async with agency_for(hub) as agency:
        application = ApplicationReceived(
            metadata=agency.metadata(),
            person_code=CODE,
            procedure="child_allowance",
            received_on=date.today(),
        )
        delivery = await agency.publish_event(application)
        key, _ = await hub.raw_from_agency()
        assert key == CODE
        assert delivery.message_id == application.metadata.message_id

        notice_id = await agency.send_notice(
            person_code=CODE, category="pension_statement", title="ねんきん定期便", body="..."
        )
        notice = await hub.from_agency(Notice)
        assert notice.notice_id == notice_id

        await agency.acknowledge_notice(notice)
        acknowledged = await hub.from_agency(NoticeAcknowledged)
        assert acknowledged.notice_id == notice_id
        assert acknowledged.notice_sender == hub.agency_id

        foreign = application.model_copy(
            update={"metadata": application.metadata.model_copy(update={"sender": "jps"})}
        )
        with pytest.raises(WrongSender):
            await agency.publish_event(foreign)
