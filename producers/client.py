"""What an agency sends: events, enrolments, attribute requests and notices.

`AgencyProducer` is the typed sending half of the SDK. Requests (`enrol`,
`request_attributes`) return the hub's outcome — the confirmation or response, a
`RequestDenied` value with its reason, or (for an attribute request) a `ProviderTimeout` value
when the provider did not answer within the hub's provider timeout — and raise `ReplyTimeout`
only when nothing arrived within the caller's own `reply_timeout`. Their outcomes are read
from `agency.<id>.in` by the agency's inbox, which must be running (`consumers.Agency` runs
both).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

from producers.connection import Connection
from producers.errors import NoSealingKey, ReplyTimeout
from producers.lifecycle import Lifecycle
from producers.publisher import Delivery, Publisher
from producers.replies import PendingReplies
from renkei.logs import get_logger
from schemas.ids import new_id
from schemas.individual_number import validate as validate_number
from schemas.models import (
    EVENT_MODELS,
    ApplicationReceived,
    AttributeRequest,
    AttributeResponse,
    ClinicalUpdate,
    ConsentGiven,
    ConsentWithdrawn,
    DependencyChanged,
    Enrolment,
    EnrolmentConfirmed,
    IncomeDetermined,
    Metadata,
    Notice,
    NoticeAcknowledged,
    NumberChanged,
    ProviderTimeout,
    ProxyRegistered,
    ProxyRevoked,
    Relocation,
    RequestDenied,
)
from schemas.sealed_number import (
    HubSealingKey,
    enrolment_context,
    number_change_context,
    seal_number,
)

log = get_logger("producers.client")
HUB_SEALING_KEY_ENV = "RENKEI_HUB_SEALING_KEY"
"""Where the SDK finds the hub's public sealing key (`<key id>:<hex>`) when none is passed."""

Event = (
    Relocation
    | IncomeDetermined
    | ClinicalUpdate
    | ApplicationReceived
    | DependencyChanged
    | ConsentGiven
    | ConsentWithdrawn
    | ProxyRegistered
    | ProxyRevoked
    | NumberChanged
)
"""The event records an agency may publish (DOMAIN.md §3)."""
# The contract's own tuple (one list of event records), typed as the union above.
EVENT_TYPES = cast(tuple[type[Event], ...], EVENT_MODELS)

DEFAULT_TIMEOUT = 30.0
"""Seconds a request waits for its outcome once the broker has accepted it."""


class AgencyProducer(Lifecycle):
    """The sending half of an agency: one publisher plus the replies it awaits."""

    def __init__(
        self,
        agency_id: str,
        connection: Connection,
        *,
        replies: PendingReplies | None = None,
        delivery_timeout: float = 40.0,
        hub_key: HubSealingKey | None = None,
    ) -> None:
        self.agency_id = agency_id
        self.publisher = Publisher(agency_id, connection, delivery_timeout=delivery_timeout)
        self.replies = replies if replies is not None else PendingReplies()
        self.hub_key = hub_key

    def sealing_key(self) -> HubSealingKey:
        """The hub's public key numbers are sealed to: as configured, else from the
        environment (RENKEI_HUB_SEALING_KEY)."""
        if self.hub_key is None:
            configured = os.environ.get(HUB_SEALING_KEY_ENV)
            if configured is None:
                raise NoSealingKey(f"no hub sealing key: pass hub_key or set {HUB_SEALING_KEY_ENV}")
            self.hub_key = HubSealingKey.parse(configured)
        return self.hub_key

    async def start(self) -> None:
        await self.publisher.start()

    async def stop(self) -> None:
        await self.publisher.stop()

    def metadata(self, *, correlation_id: UUID | None = None) -> Metadata:
        """A fresh envelope with this agency as sender, for building messages."""
        return self.publisher.metadata(correlation_id=correlation_id)

    async def publish_event(self, event: Event) -> Delivery:
        """Publish an event; its metadata.message_id is what requests cite as trigger."""
        if not isinstance(event, EVENT_TYPES):
            raise TypeError(f"{type(event).__name__} is not an event record")
        if isinstance(event, NumberChanged) and event.new_number is not None:
            # The new number leaves this process only sealed to the hub's key.
            context = number_change_context(event.metadata.sender, event.person_code)
            sealed = seal_number(event.new_number, self.sealing_key(), context)
            event = event.model_copy(update={"new_number": None, "sealed_new_number": sealed})
        return await self.publisher.publish(event)

    async def enrol(
        self,
        individual_number: str,
        *,
        reply_timeout: float = DEFAULT_TIMEOUT,
        request_id: UUID | None = None,
    ) -> EnrolmentConfirmed | RequestDenied:
        """Present a person's number once; the outcome carries this agency's link code. The
        number is validated here and leaves this process only sealed to the hub's key."""
        rid = request_id or new_id()
        number = validate_number(individual_number)
        context = enrolment_context(self.agency_id, rid)
        message = Enrolment(
            metadata=self.metadata(),
            request_id=rid,
            sealed_number=seal_number(number, self.sealing_key(), context),
        )
        reply = await self._request(message, rid, reply_timeout)
        if isinstance(reply, EnrolmentConfirmed | RequestDenied):
            return reply
        raise TypeError(f"enrolment {rid} was answered by {reply.MESSAGE_TYPE}")

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
        reply_timeout: float = DEFAULT_TIMEOUT,
        request_id: UUID | None = None,
    ) -> AttributeResponse | RequestDenied | ProviderTimeout:
        """情報照会: ask `provider` for attributes under a legal-basis row, after an event.
        The outcome is the response, a denial, or `ProviderTimeout` if the provider did not
        answer in the hub's time (then nothing more comes for this request id)."""
        rid = request_id or new_id()
        message = AttributeRequest(
            metadata=self.metadata(),
            request_id=rid,
            person_code=person_code,
            provider=provider,
            purpose=purpose,
            legal_basis_row=legal_basis_row,
            attributes=list(attributes),
            trigger_event_id=trigger_event_id,
            proxy_code=proxy_code,
        )
        reply = await self._request(message, rid, reply_timeout)
        if isinstance(reply, AttributeResponse | RequestDenied | ProviderTimeout):
            return reply
        raise TypeError(f"attribute request {rid} was answered by {reply.MESSAGE_TYPE}")

    async def send_notice(
        self, *, person_code: bytes, category: str, title: str, body: str
    ) -> UUID:
        """お知らせ: send the person a notice through the portal; returns the notice id, which
        the portal's `NoticeAcknowledged` cites when the person has opened it."""
        notice_id = new_id()
        await self.publisher.publish(
            Notice(
                metadata=self.metadata(),
                notice_id=notice_id,
                person_code=person_code,
                category=category,
                title=title,
                body=body,
            )
        )
        return notice_id

    async def acknowledge_notice(
        self, notice: Notice, *, delivered_at: datetime | None = None
    ) -> Delivery:
        """到達確認 (portal side): the person opened `notice`; the hub routes this back to the
        notice's sender."""
        return await self.publisher.publish(
            NoticeAcknowledged(
                metadata=self.metadata(correlation_id=notice.metadata.message_id),
                notice_id=notice.notice_id,
                delivered_at=delivered_at or datetime.now(UTC),
                notice_sender=notice.metadata.sender,
                delivery_receipt=notice.delivery_receipt,
            )
        )

    async def _request(
        self, message: Enrolment | AttributeRequest, request_id: UUID, reply_timeout: float
    ) -> EnrolmentConfirmed | AttributeResponse | RequestDenied | ProviderTimeout:
        future = self.replies.expect(request_id)  # before publishing: no reply goes unseen
        try:
            await self.publisher.publish(message)
            return await asyncio.wait_for(future, reply_timeout)
        except TimeoutError:
            log.warning(
                "request.timeout",
                agency=self.agency_id,
                message_type=message.MESSAGE_TYPE,
                request_id=str(request_id),
                reply_timeout=reply_timeout,
            )
            raise ReplyTimeout(message.MESSAGE_TYPE, request_id, reply_timeout) from None
        finally:
            self.replies.forget(request_id)
