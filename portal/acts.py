"""What the portal does as an agency, for a signed-in person: enrol them, confirm a notice was
opened (到達確認), give or withdraw consent, register, confirm or revoke a proxy. Each act is a
message the portal publishes through the agency SDK; the hub decides what it means."""

from __future__ import annotations

from datetime import datetime

from consumers import Agency, AgencyConfig
from producers import Connection
from schemas.codec import decode_as
from schemas.models import (
    ConsentGiven,
    ConsentWithdrawn,
    EnrolmentConfirmed,
    Notice,
    ProxyKind,
    ProxyRegistered,
    ProxyRegistrant,
    ProxyRevoked,
    RequestDenied,
)
from schemas.sealed_number import HubSealingKey

PORTAL = "portal"


class PortalAgency:
    """The portal's agency process (SDK), used by the web application."""

    def __init__(
        self,
        connection: Connection,
        *,
        reply_timeout: float = 30.0,
        hub_key: HubSealingKey | None = None,  # else RENKEI_HUB_SEALING_KEY
    ) -> None:
        self.agency = Agency(
            AgencyConfig(
                PORTAL,
                connection,
                key_id="portal-web",
                reply_timeout=reply_timeout,
                hub_key=hub_key,
            )
        )

    async def start(self) -> None:
        await self.agency.start()

    async def stop(self) -> None:
        await self.agency.stop()

    async def enrol(self, individual_number: str) -> bytes | RequestDenied:
        """The person's link code at the portal, or the hub's denial."""
        outcome = await self.agency.enrol(individual_number)
        if isinstance(outcome, EnrolmentConfirmed):
            return outcome.person_code
        return outcome

    async def acknowledge(self, encoded_notice: bytes, opened_at: datetime) -> None:
        notice = decode_as(encoded_notice, Notice)
        await self.agency.acknowledge_notice(notice, delivered_at=opened_at)

    async def give_consent(
        self, person_code: bytes, purpose: str, recipient: str | None, expires_at: datetime | None
    ) -> ConsentGiven:
        event = ConsentGiven(
            metadata=self.agency.metadata(),
            person_code=person_code,
            purpose=purpose,
            recipient=recipient,
            expires_at=expires_at,
        )
        await self.agency.publish_event(event)
        return event

    async def withdraw_consent(
        self, person_code: bytes, purpose: str, recipient: str | None
    ) -> ConsentWithdrawn:
        event = ConsentWithdrawn(
            metadata=self.agency.metadata(),
            person_code=person_code,
            purpose=purpose,
            recipient=recipient,
        )
        await self.agency.publish_event(event)
        return event

    async def register_proxy(
        self,
        principal_code: bytes,
        proxy_code: bytes,
        scope: list[str],
        expires_at: datetime | None,
        registered_by: ProxyRegistrant,
    ) -> ProxyRegistered:
        event = ProxyRegistered(
            metadata=self.agency.metadata(),
            principal_code=principal_code,
            proxy_code=proxy_code,
            kind=ProxyKind.VOLUNTARY,
            scope=scope,
            expires_at=expires_at,
            registered_by=registered_by,
        )
        await self.agency.publish_event(event)
        return event

    async def revoke_proxy(self, principal_code: bytes, proxy_code: bytes) -> ProxyRevoked:
        event = ProxyRevoked(
            metadata=self.agency.metadata(), principal_code=principal_code, proxy_code=proxy_code
        )
        await self.agency.publish_event(event)
        return event
