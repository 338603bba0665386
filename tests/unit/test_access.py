"""The ACL table of DOMAIN.md §4, checked as data (the broker's enforcement: tests/security)."""

from __future__ import annotations

import pytest

from hub.access import (
    HUB_INTERNAL_PREFIX,
    NotAPrincipal,
    Operation,
    Pattern,
    Resource,
    agency_rules,
    rules_for,
    service_rules,
)
from schemas.topics import (
    CONTROL,
    CONTROL_ACKS,
    DEAD_LETTERS,
    OVERSIGHT_SIGNALS,
    PROVISION_RECORDS,
    inbound,
    outbound,
)
from schemas.vocabulary import InvalidAgencyId

AGENCIES = ["mun-13101", "mun-27100", "jps", "hi-kyokai", "med-0001", "portal"]
EVERYONE = [*AGENCIES, "hub", "operator", "ppc"]


def topic_rights(principal: str) -> set[tuple[str, Pattern, Operation]]:
    rules = service_rules(principal) if principal in ("hub", "operator", "ppc") else []
    rules += [r for a in AGENCIES for r in agency_rules(a) if r.principal == principal]
    return {(r.name, r.pattern, r.operation) for r in rules if r.resource is Resource.TOPIC}


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_writes_only_its_outbox_and_reads_only_its_inbox(agency: str) -> None:
    rights = topic_rights(agency)
    writes = {name for name, _, op in rights if op is Operation.WRITE}
    reads = {name for name, _, op in rights if op is Operation.READ}
    assert writes == {outbound(agency)}
    assert reads - {PROVISION_RECORDS} == {inbound(agency)}
    assert all(pattern is Pattern.LITERAL for _, pattern, _ in rights)


def test_only_the_portal_reads_provision_records_among_agencies() -> None:
    readers = {a for a in AGENCIES if (PROVISION_RECORDS, Pattern.LITERAL, Operation.READ)
               in topic_rights(a)}  # fmt: skip
    assert readers == {"portal"}


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_groups_and_transactional_ids_cannot_reach_another_agency(agency: str) -> None:
    others = [f"renkei-agency-{o}" for o in AGENCIES if o != agency]
    for rule in rules_for(agency):
        if rule.resource in (Resource.GROUP, Resource.TRANSACTIONAL_ID):
            for name in others + [f"{o}.tx" for o in others]:
                if rule.pattern is Pattern.PREFIXED:
                    assert not name.startswith(rule.name), (rule, name)
                else:
                    assert name != rule.name


def test_the_hub_reads_outboxes_writes_inboxes_and_never_the_reverse() -> None:
    rights = topic_rights("hub")
    for agency in AGENCIES:
        assert (outbound(agency), Pattern.LITERAL, Operation.READ) in rights
        assert (inbound(agency), Pattern.LITERAL, Operation.WRITE) in rights
        assert (inbound(agency), Pattern.LITERAL, Operation.READ) not in rights
        assert (outbound(agency), Pattern.LITERAL, Operation.WRITE) not in rights
    assert (CONTROL, Pattern.LITERAL, Operation.WRITE) not in rights


def test_nobody_but_the_hub_reads_or_writes_hub_internal_topics() -> None:
    for principal in EVERYONE:
        touching = {
            n
            for n, _, op in topic_rights(principal)
            if n.startswith(HUB_INTERNAL_PREFIX) and op is not Operation.DESCRIBE
        }
        assert (principal == "hub") == bool(touching), principal


def test_the_operator_describes_agency_and_internal_topics_for_lag_but_reads_none() -> None:
    rights = topic_rights("operator")
    prefixed = {(n, op) for n, pattern, op in rights if pattern is Pattern.PREFIXED}
    assert prefixed == {("agency.", Operation.DESCRIBE), (HUB_INTERNAL_PREFIX, Operation.DESCRIBE)}
    for agency in AGENCIES:
        assert not {(t, p, op) for t in (outbound(agency), inbound(agency)) for p in Pattern
                    for op in (Operation.READ, Operation.WRITE)} & rights  # fmt: skip


def test_control_is_written_by_operators_and_the_oversight_body_only() -> None:
    writers = {p for p in EVERYONE
               if (CONTROL, Pattern.LITERAL, Operation.WRITE) in topic_rights(p)}  # fmt: skip
    assert writers == {"operator", "ppc"}


def test_dead_letters_are_written_by_the_hub_and_read_by_operators_and_oversight() -> None:
    writers = {p for p in EVERYONE
               if (DEAD_LETTERS, Pattern.LITERAL, Operation.WRITE) in topic_rights(p)}  # fmt: skip
    readers = {p for p in EVERYONE
               if (DEAD_LETTERS, Pattern.LITERAL, Operation.READ) in topic_rights(p)}  # fmt: skip
    assert writers == {"hub"}
    assert readers == {"operator", "ppc"}


def test_the_oversight_body_reads_every_outbox_writes_no_agency_topic_and_alone_signals() -> None:
    rights = topic_rights("ppc")
    for agency in AGENCIES:
        assert (outbound(agency), Pattern.LITERAL, Operation.READ) in rights
        assert (outbound(agency), Pattern.LITERAL, Operation.WRITE) not in rights
        assert not {(inbound(agency), p, op) for p in Pattern for op in Operation} & rights
    signal_writing = (OVERSIGHT_SIGNALS, Pattern.LITERAL, Operation.WRITE)
    assert {p for p in EVERYONE if signal_writing in topic_rights(p)} == {"ppc"}


def test_a_name_that_is_no_principal_is_refused() -> None:
    with pytest.raises(NotAPrincipal):
        service_rules("admin")
    with pytest.raises(InvalidAgencyId):
        agency_rules("agency.evil")


def test_only_the_hub_acknowledges_control_and_only_who_publishes_control_reads_it() -> None:
    writers = {
        p for p in EVERYONE if (CONTROL_ACKS, Pattern.LITERAL, Operation.WRITE) in topic_rights(p)
    }
    readers = {p for p in EVERYONE
               if (CONTROL_ACKS, Pattern.LITERAL, Operation.READ) in topic_rights(p)}  # fmt: skip
    assert writers == {"hub"}
    assert readers == {"operator", "ppc"}


def test_who_publishes_control_may_describe_the_hubs_groups_but_never_join_them() -> None:
    for principal in ("operator", "ppc"):
        on_hub_groups = {r.operation for r in service_rules(principal)
                         if r.resource is Resource.GROUP and r.name == "renkei-hub-"}  # fmt: skip
        assert on_hub_groups == {Operation.DESCRIBE}
