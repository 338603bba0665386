"""`Agency`: one agency's adapter — its configuration, its handlers, its inbox and its producer.

An adapter program is configuration plus handlers (see `consumers/example.py`):

    agency = Agency(AgencyConfig("mun-13101", Connection.from_environment()))

    @agency.query("taxable_income", "dependants_count")
    async def income(query: AttributeQuery) -> Values: ...

    @agency.on(Relocation)
    async def moved_in(event: Relocation) -> None: ...

    await agency.run()           # or: async with agency: ... (runs the inbox in the background)

Requests made while the agency runs (`enrol`, `request_attributes`) get their outcomes from
the same inbox, including requests made inside a handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from consumers.handlers import G, Handlers, M, MessageHandler, Q
from consumers.inbox import Inbox
from producers import DEFAULT_TIMEOUT, AgencyProducer, Connection, Delivery, Event
from producers.lifecycle import Lifecycle
from schemas.models import (
    AttributeResponse,
    EnrolmentConfirmed,
    Metadata,
    Notice,
    ProviderTimeout,
    RequestDenied,
)
from schemas.sealed_number import HubSealingKey


@dataclass(frozen=True, slots=True)
class AgencyConfig:
    """What an agency adapter is configured with."""

    agency_id: str
    connection: Connection  # bootstrap and SASL credentials of the agency's principal
    key_id: str | None = None  # id of the agency's link-code key registered at onboarding
    data_source: str | None = None  # where the adapter's handlers read (opaque to the SDK)
    group_id: str | None = None  # default renkei-agency-<id>
    extra_topics: tuple[str, ...] = ()  # e.g. schemas.topics.PROVISION_RECORDS for the portal
    reply_timeout: float = DEFAULT_TIMEOUT
    delivery_timeout: float = 40.0
    lanes: int = 8
    hub_key: HubSealingKey | None = None  # else RENKEI_HUB_SEALING_KEY; needed to enrol


class Agency(Lifecycle):
    """One agency process: handlers registered on it, an inbox and a producer run by it."""

    def __init__(self, config: AgencyConfig, handlers: Handlers | None = None) -> None:
        self.config = config
        self.agency_id = config.agency_id
        self.handlers = handlers if handlers is not None else Handlers()
        self.producer = AgencyProducer(
            config.agency_id,
            config.connection,
            delivery_timeout=config.delivery_timeout,
            hub_key=config.hub_key,
        )
        self.inbox = Inbox(
            config.agency_id,
            config.connection,
            self.handlers,
            publisher=self.producer.publisher,
            replies=self.producer.replies,
            group_id=config.group_id,
            extra_topics=config.extra_topics,
            lanes=config.lanes,
        )
        self._loop: asyncio.Task[None] | None = None

    # ---- handlers -----------------------------------------------------------------------

    def query(self, *attributes: str, purpose: str | None = None) -> Callable[[Q], Q]:
        """Decorator: answer queries for these attributes and/or this purpose."""
        return self.handlers.query(*attributes, purpose=purpose)

    def on(self, model: type[M]) -> Callable[[MessageHandler[M]], MessageHandler[M]]:
        """Decorator: handle one inbound message type (an event type, Notice, …)."""
        return self.handlers.on(model)

    def on_gap(self, handler: G) -> G:
        """Decorator: be told of gaps in the hub's delivery sequence."""
        return self.handlers.on_gap(handler)

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the producer and the inbox; the inbox runs in the background."""
        await self.producer.start()
        await self.inbox.start()
        self._loop = asyncio.create_task(self.inbox.run(), name=f"inbox-{self.agency_id}")

    async def stop(self) -> None:
        """Finish what is being handled, commit, close; re-raises a handler failure."""
        loop, self._loop = self._loop, None
        try:
            if loop is not None:
                self.inbox.stop()
                await loop
        finally:
            await self.producer.stop()

    async def wait(self) -> None:
        """Until the inbox stops (after `stop()`, or a HandlerFailed it raises)."""
        if self._loop is not None:
            await asyncio.shield(self._loop)

    async def run(self) -> None:
        """Run until cancelled (or a handler fails)."""
        await self.start()
        try:
            await self.wait()
        finally:
            await self.stop()

    # ---- sending (see producers.AgencyProducer) -----------------------------------------

    def metadata(self, *, correlation_id: UUID | None = None) -> Metadata:
        return self.producer.metadata(correlation_id=correlation_id)

    async def publish_event(self, event: Event) -> Delivery:
        return await self.producer.publish_event(event)

    async def enrol(
        self, individual_number: str, *, request_id: UUID | None = None
    ) -> EnrolmentConfirmed | RequestDenied:
        return await self.producer.enrol(
            individual_number, reply_timeout=self.config.reply_timeout, request_id=request_id
        )

    async def request_attributes(
        self,
        *,
        person_code: bytes,
        provider: str,
        purpose: str,
        legal_basis_row: str,
        attributes: Sequence[str],
        trigger_event_id: UUID,
        proxy_code: bytes | None = None,
        request_id: UUID | None = None,
    ) -> AttributeResponse | RequestDenied | ProviderTimeout:
        return await self.producer.request_attributes(
            person_code=person_code,
            provider=provider,
            purpose=purpose,
            legal_basis_row=legal_basis_row,
            attributes=attributes,
            trigger_event_id=trigger_event_id,
            proxy_code=proxy_code,
            reply_timeout=self.config.reply_timeout,
            request_id=request_id,
        )

    async def send_notice(
        self, *, person_code: bytes, category: str, title: str, body: str
    ) -> UUID:
        return await self.producer.send_notice(
            person_code=person_code, category=category, title=title, body=body
        )

    async def acknowledge_notice(
        self, notice: Notice, *, delivered_at: datetime | None = None
    ) -> Delivery:
        return await self.producer.acknowledge_notice(notice, delivered_at=delivered_at)
