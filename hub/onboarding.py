"""Onboarding an agency and steering the rollout: data on the control channel, not code."""

from __future__ import annotations

from hub.control import operator_metadata, publish_control
from hub.topics import TopicLayout, ensure_topics
from schemas.models import AgencyRegistered, RolloutChange, RolloutOperation
from schemas.vocabulary import EventType, Sector, agency_kind


async def onboard_agency(
    bootstrap: str,
    agency: str,
    subscriptions: list[str] | None = None,
    *,
    key_id: str = "1",
    layout: TopicLayout | None = None,
    operator: str = "op-onboarding",
) -> list[str]:
    """Create the agency's two topics (idempotent) and register it; the topics created."""
    kind = agency_kind(agency)  # InvalidAgencyId for anything that is not an agency id
    events = [EventType(s).value for s in subscriptions or []]
    created = await ensure_topics(bootstrap, (layout or TopicLayout()).agency_topics(agency))
    registration = AgencyRegistered(
        metadata=operator_metadata(operator),
        agency=agency,
        kind=kind,
        key_id=key_id,
        subscriptions=events,
    )
    await publish_control(bootstrap, registration)
    return created


async def change_rollout(
    bootstrap: str,
    operation: RolloutOperation,
    *,
    sector: Sector | None = None,
    times: int = 1,
    operator: str = "op-rollout",
) -> None:
    """Publish a rollout change (`times` of it, e.g. to advance several phases)."""
    changes = [
        RolloutChange(metadata=operator_metadata(operator), operation=operation, sector=sector)
        for _ in range(times)
    ]
    await publish_control(bootstrap, *changes)
