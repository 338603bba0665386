"""Reference agencies: real SDK agencies answering from their slice of the synthetic population.

`ReferenceAgency` is an `Agency` (the SDK, nothing else) plus a ledger: the attribute values it
holds by individual number (`agencies.holdings`) and the link codes it learned by enrolling
those people through the hub. A query is answered by translating the query's link code back to
the agency's own record; a code it never enrolled is answered as not held. Events delivered to
it are kept (by type, newest last) so a scenario can cite a received event as trigger.

`Portal` is a scripted stand-in for the portal (マイ・ポータル; the web application is the
`portal` package): it reads provision records and notices, keeps them per person code, and
acknowledges a notice (到達確認) only when `open_notice` says the person opened it, never on
arrival: a notice that reached the portal is not a notice the person saw.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from agencies.holdings import Slice, served_numbers, slice_for
from agencies.population import HEALTH_INSURER, MEDICAL_INSTITUTIONS, MUNICIPALITIES, Population
from consumers import Agency, AgencyConfig, Values
from producers import EVENT_TYPES, Connection, Event, ReplyTimeout
from renkei.logs import get_logger
from schemas.models import (
    AttributeQuery,
    EnrolmentConfirmed,
    Notice,
    NoticeAcknowledged,
    ProvisionRecord,
)
from schemas.sealed_number import HubSealingKey
from schemas.topics import PROVISION_RECORDS

log = get_logger("agencies.reference")

NATIONAL_AGENCIES = ("jps", HEALTH_INSURER, "mhlw-ei")
REFERENCE_AGENCY_IDS = (*MUNICIPALITIES, *NATIONAL_AGENCIES, *MEDICAL_INSTITUTIONS, "portal")


ENROLMENT_TIMEOUT = "TIMEOUT"  # in an EnrolmentSummary: no answer after every attempt


@dataclass(frozen=True, slots=True)
class EnrolmentSummary:
    confirmed: int
    denied: dict[str, int]  # reason (or ENROLMENT_TIMEOUT: never answered) -> count

    @property
    def attempted(self) -> int:
        return self.confirmed + sum(self.denied.values())


class ReferenceAgency:
    """One reference agency over a population."""

    def __init__(
        self,
        agency_id: str,
        connection: Connection,
        population: Population,
        *,
        extra_topics: tuple[str, ...] = (),
        reply_timeout: float = 30.0,
        group_id: str | None = None,
        slice_of: str | None = None,
        hub_key: HubSealingKey | None = None,
    ) -> None:
        """`slice_of`: answer from the slice of another reference id (tests run a reference
        municipality's data under a throw-away id, so they never touch the real topics)."""
        self.agency_id = agency_id
        self.population = population
        self.holdings: Slice = slice_for(population, slice_of or agency_id)
        self.serves: list[str] = served_numbers(population, slice_of or agency_id)
        self.codes: dict[bytes, str] = {}  # link code -> individual number
        self.code_of: dict[str, bytes] = {}  # individual number -> link code
        self.received: dict[str, deque[Event]] = defaultdict(lambda: deque(maxlen=10_000))
        self.agency = Agency(
            AgencyConfig(
                agency_id,
                connection,
                key_id=f"{agency_id}-reference",
                data_source=f"synthetic:seed={population.seed}",
                extra_topics=extra_topics,
                reply_timeout=reply_timeout,
                group_id=group_id,
                hub_key=hub_key,
            )
        )
        held = sorted({name for values in self.holdings.values() for name in values})
        if held:
            self.agency.query(*held)(self._answer)
        for event_type in EVENT_TYPES:
            self.agency.on(event_type)(self._keep)

    async def _answer(self, query: AttributeQuery) -> Values:
        number = self.codes.get(query.person_code)
        if number is None:
            return {}
        return self.holdings.get(number, {})

    async def _keep(self, event: Event) -> None:
        self.received[event.MESSAGE_TYPE].append(event)

    def learn(self, individual_number: str, person_code: bytes) -> None:
        """Record the link code the hub issued for one of this agency's people."""
        self.codes[person_code] = individual_number
        self.code_of[individual_number] = person_code

    async def enrol_all(
        self, numbers: Iterable[str] | None = None, *, concurrency: int = 32, attempts: int = 5
    ) -> EnrolmentSummary:
        """Enrol everyone this agency serves (or `numbers`) and learn their link codes.

        An enrolment that gets no answer in time (a broker or hub replica failing over) is sent
        again under the same request id, up to `attempts` times: the hub answers a repeat from
        its record, so a person is never enrolled twice. One still unanswered after that is
        counted as TIMEOUT in the summary; the agency keeps serving the others."""
        limit = asyncio.Semaphore(concurrency)
        denied: dict[str, int] = defaultdict(int)
        confirmed = 0

        async def enrol(number: str) -> None:
            nonlocal confirmed
            request_id = uuid4()
            for attempt in range(1, attempts + 1):
                try:
                    async with limit:
                        outcome = await self.agency.enrol(number, request_id=request_id)
                    break
                except ReplyTimeout:
                    log.warning("agency.enrolment_unanswered", agency=self.agency_id,
                                attempt=attempt, of=attempts)  # fmt: skip
            else:
                denied[ENROLMENT_TIMEOUT] += 1
                return
            if isinstance(outcome, EnrolmentConfirmed):
                self.learn(number, outcome.person_code)
                confirmed += 1
            else:
                denied[outcome.reason.value] += 1

        await asyncio.gather(*(enrol(n) for n in (self.serves if numbers is None else numbers)))
        summary = EnrolmentSummary(confirmed, dict(denied))
        log.info(
            "agency.enrolled", agency=self.agency_id, confirmed=confirmed, denied=summary.denied
        )
        return summary

    async def start(self) -> None:
        await self.agency.start()

    async def stop(self) -> None:
        await self.agency.stop()

    async def run(self, *, enrol: bool = True) -> None:
        """Start, enrol the agency's people, and serve until cancelled."""
        await self.agency.start()
        try:
            if enrol:
                await self.enrol_all()
            await self.agency.wait()
        finally:
            await self.agency.stop()


class Portal(ReferenceAgency):
    """マイ・ポータル, scripted: provision records and notices per person code; a notice is
    acknowledged when the person opens it (`open_notice`)."""

    def __init__(
        self, connection: Connection, population: Population, hub_key: HubSealingKey | None = None
    ) -> None:
        super().__init__(
            "portal",
            connection,
            population,
            extra_topics=(PROVISION_RECORDS,),
            hub_key=hub_key,
        )
        self.records: dict[bytes, list[ProvisionRecord]] = defaultdict(list)
        self.notices: dict[bytes, list[Notice]] = defaultdict(list)
        self.acknowledged: dict[UUID, datetime] = {}
        self.agency.on(ProvisionRecord)(self._record)
        self.agency.on(Notice)(self._notice)

    async def _record(self, record: ProvisionRecord) -> None:
        self.records[record.subject_code].append(record)

    async def _notice(self, notice: Notice) -> None:
        self.notices[notice.person_code].append(notice)

    async def open_notice(self, notice: Notice) -> None:
        """The person opened `notice`: confirm delivery to the agency that sent it."""
        if notice.notice_id in self.acknowledged:
            return  # at-least-once delivery: a redelivered notice is confirmed once
        opened = datetime.now(UTC)
        await self.agency.acknowledge_notice(notice, delivered_at=opened)
        self.acknowledged[notice.notice_id] = opened


class NoticeSender(ReferenceAgency):
    """A reference agency that also keeps the delivery confirmations of its notices."""

    def __init__(
        self, agency_id: str, connection: Connection, population: Population, **options: Any
    ) -> None:
        super().__init__(agency_id, connection, population, **options)
        self.confirmations: dict[UUID, datetime] = {}
        self.agency.on(NoticeAcknowledged)(self._confirmed)

    async def _confirmed(self, ack: NoticeAcknowledged) -> None:
        self.confirmations[ack.notice_id] = ack.delivered_at


def reference_agency(
    agency_id: str, connection: Connection, population: Population, **options: Any
) -> ReferenceAgency:
    """The reference agency for one id of `REFERENCE_AGENCY_IDS`."""
    if agency_id == "portal":
        return Portal(connection, population, **options)
    if agency_id not in REFERENCE_AGENCY_IDS:
        raise ValueError(f"{agency_id} is not a reference agency")
    return NoticeSender(agency_id, connection, population, **options)


def reference_agencies(
    connection: Connection, population: Population, hub_key: HubSealingKey | None = None
) -> dict[str, ReferenceAgency]:
    """Every reference agency: six municipalities (three pilot), jps, hi-kyokai, mhlw-ei,
    med-0001, med-0002 and the portal. `hub_key`: the hub's public sealing key."""
    return {
        a: reference_agency(a, connection, population, hub_key=hub_key)
        for a in REFERENCE_AGENCY_IDS
    }
