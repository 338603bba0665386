"""Who may see what in the portal, as pure rules (no broker, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.access import (
    Grant,
    ProxyStatus,
    Refusal,
    View,
    may_decide_proxy,
    may_revoke_proxy,
    view_of,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ALICE, BOB, MALLORY = b"alice", b"bob", b"mallory"


def grant(status: ProxyStatus = ProxyStatus.CONFIRMED, scope: str = "pension",
          expires: datetime | None = None) -> Grant:  # fmt: skip
    return Grant(ALICE, BOB, status.value, frozenset({scope}), expires)


def test_a_person_sees_all_of_their_own_records() -> None:
    view = view_of(ALICE, ALICE, [], NOW)
    assert view == View(ALICE, None)
    assert view.shows("medical", "continuity_of_care")


def test_nobody_sees_another_persons_records_without_a_grant() -> None:
    assert view_of(MALLORY, ALICE, [grant()], NOW) is Refusal.NO_PROXY_GRANT


def test_a_confirmed_proxy_sees_only_the_sectors_or_purposes_in_its_scope() -> None:
    view = view_of(BOB, ALICE, [grant(scope="pension")], NOW)
    assert isinstance(view, View)
    assert view.by_proxy
    assert view.shows("pension", "national_pension_premium_exemption")
    assert not view.shows("tax", "resident_tax_assessment")
    assert not view.shows(None, None)
    by_purpose = view_of(BOB, ALICE, [grant(scope="resident_tax_assessment")], NOW)
    assert isinstance(by_purpose, View)
    assert by_purpose.shows("tax", "resident_tax_assessment")


def test_a_legal_proxy_for_everything_sees_everything() -> None:
    view = view_of(BOB, ALICE, [grant(scope="*")], NOW)
    assert isinstance(view, View)
    assert view.shows("medical", "continuity_of_care")


def test_pending_refused_revoked_or_expired_grants_show_nothing() -> None:
    for status in (ProxyStatus.PENDING_PRINCIPAL, ProxyStatus.PENDING_PROXY,
                   ProxyStatus.REFUSED, ProxyStatus.REVOKED):  # fmt: skip
        assert view_of(BOB, ALICE, [grant(status)], NOW) is Refusal.NO_PROXY_GRANT
    expired = grant(expires=NOW - timedelta(seconds=1))
    assert view_of(BOB, ALICE, [expired], NOW) is Refusal.NO_PROXY_GRANT
    assert isinstance(view_of(BOB, ALICE, [grant(expires=NOW + timedelta(days=1))], NOW), View)


def test_a_grant_for_another_principal_does_not_open_this_one() -> None:
    other = Grant(MALLORY, BOB, ProxyStatus.CONFIRMED.value, frozenset({"*"}), None)
    assert view_of(BOB, ALICE, [other], NOW) is Refusal.NO_PROXY_GRANT


def test_only_the_party_a_proposal_waits_for_may_confirm_or_refuse_it() -> None:
    by_proxy = grant(ProxyStatus.PENDING_PRINCIPAL)
    assert may_decide_proxy(ALICE, by_proxy) is None
    assert may_decide_proxy(BOB, by_proxy) is Refusal.NOT_ALLOWED  # the would-be proxy itself
    assert may_decide_proxy(MALLORY, by_proxy) is Refusal.NOT_YOURS
    by_principal = grant(ProxyStatus.PENDING_PROXY)
    assert may_decide_proxy(BOB, by_principal) is None
    assert may_decide_proxy(ALICE, by_principal) is Refusal.NOT_ALLOWED
    assert may_decide_proxy(ALICE, grant(ProxyStatus.CONFIRMED)) is Refusal.NOT_ALLOWED


def test_the_principal_or_the_proxy_may_end_a_grant_and_nobody_else() -> None:
    assert may_revoke_proxy(ALICE, grant()) is None
    assert may_revoke_proxy(BOB, grant()) is None
    assert may_revoke_proxy(MALLORY, grant()) is Refusal.NOT_YOURS
    assert may_revoke_proxy(ALICE, grant(ProxyStatus.REVOKED)) is Refusal.NOT_ALLOWED
