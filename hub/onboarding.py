"""Onboarding an agency and steering the rollout: data on the control channel, not code.

Onboarding is one idempotent act (DOMAIN.md §4): the agency's two topics, its principal's
SCRAM credential, the ACLs of `hub.access` (its own and the hub's on its topics), and its
registration on the control channel. Offboarding retires the agency on the control channel
(the hub stops counting it as registered) and removes the ACLs, the credential and the
topics. On an unsecured (PLAINTEXT) broker there are no principals, so only topics and the
registration are made.
"""

from __future__ import annotations

from hub.access import agency_rules, service_rules
from hub.acl_admin import create_principal, grant, remove_principal
from hub.control import operator_metadata, publish_control
from hub.topics import TopicLayout, ensure_topics
from producers.connection import Connection
from schemas.models import AgencyRegistered, AgencyRetired, RolloutChange, RolloutOperation
from schemas.topics import inbound, outbound
from schemas.vocabulary import EventType, Sector, agency_kind


def _secured(connection: Connection) -> bool:
    return connection.security_protocol != "PLAINTEXT"


async def onboard_agency(
    bootstrap: str,
    agency: str,
    subscriptions: list[str] | None = None,
    *,
    key_id: str = "1",
    layout: TopicLayout | None = None,
    operator: str = "op-onboarding",
    password: str | None = None,
    register: bool = True,
) -> list[str]:
    """Create the agency's two topics, its ACLs and (given a password) its credential, and
    (unless `register` is False: the caller publishes `registration(...)` itself) register
    it; idempotent. The topics created."""
    agency_kind(agency)  # InvalidAgencyId for anything that is not an agency id
    events = [EventType(s).value for s in subscriptions or []]
    created = await ensure_topics(bootstrap, (layout or TopicLayout()).agency_topics(agency))
    connection = Connection.from_environment(bootstrap)
    if _secured(connection):
        if password is None:
            await grant(connection, agency_rules(agency))
        else:
            await create_principal(connection, agency, password, agency_rules(agency))
    if register:
        await register_agency(bootstrap, agency, events, key_id=key_id, operator=operator)
    return created


def registration(
    agency: str,
    subscriptions: list[str] | None = None,
    *,
    key_id: str = "1",
    operator: str = "op-onboarding",
) -> AgencyRegistered:
    """The control command that registers an agency (kind, key id, subscriptions)."""
    return AgencyRegistered(
        metadata=operator_metadata(operator),
        agency=agency,
        kind=agency_kind(agency),
        key_id=key_id,
        subscriptions=[EventType(s).value for s in subscriptions or []],
    )


async def register_agency(
    bootstrap: str,
    agency: str,
    subscriptions: list[str] | None = None,
    *,
    key_id: str = "1",
    operator: str = "op-onboarding",
) -> None:
    """Register the agency on the control channel only (kind, key id, subscriptions): where
    its topics, credential and ACLs are made by something else (Strimzi's operators)."""
    await publish_control(
        bootstrap, registration(agency, subscriptions, key_id=key_id, operator=operator)
    )


def rollout_changes(
    operation: RolloutOperation,
    *,
    sector: Sector | None = None,
    times: int = 1,
    operator: str = "op-rollout",
) -> list[RolloutChange]:
    """`times` rollout changes (e.g. to advance several phases)."""
    return [
        RolloutChange(metadata=operator_metadata(operator), operation=operation, sector=sector)
        for _ in range(times)
    ]


async def change_rollout(
    bootstrap: str,
    operation: RolloutOperation,
    *,
    sector: Sector | None = None,
    times: int = 1,
    operator: str = "op-rollout",
) -> None:
    """Publish a rollout change (`times` of it, e.g. to advance several phases)."""
    changes = rollout_changes(operation, sector=sector, times=times, operator=operator)
    await publish_control(bootstrap, *changes)


def retirement(
    agency: str, *, operator: str = "op-onboarding", reason: str = "offboarded"
) -> AgencyRetired:
    """The control command that retires an agency from the hub's registry."""
    return AgencyRetired(metadata=operator_metadata(operator), agency=agency, reason=reason)


async def offboard_agency(
    bootstrap: str, agency: str, *, retire: bool = True, operator: str = "op-onboarding"
) -> bool:
    """Retire the agency from the hub's registry (unless `retire` is False: the caller
    published `retirement(...)` itself), then remove its ACLs, credential and two topics;
    False if it had no credential. Retired first, so the hub has stopped routing to it when
    its topics go."""
    agency_kind(agency)
    if retire:
        await publish_control(bootstrap, retirement(agency, operator=operator))
    connection = Connection.from_environment(bootstrap)
    if not _secured(connection):
        await remove_principal(connection, agency, [], [outbound(agency), inbound(agency)])
        return False
    return await remove_principal(
        connection, agency, agency_rules(agency), [outbound(agency), inbound(agency)]
    )


async def create_service_principal(bootstrap: str, principal: str, password: str) -> None:
    """The credential and fixed ACLs of `hub`, `operator` or `ppc` (idempotent)."""
    rules = service_rules(principal)  # NotAPrincipal for any other name
    await create_principal(Connection.from_environment(bootstrap), principal, password, rules)
