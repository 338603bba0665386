"""Who may see what in the portal: pure rules, no I/O (DOMAIN.md §8, §9, §15).

A person sees everything about themselves. A proxy sees the principal's provision records only,
only through a confirmed, unexpired grant naming them, and only the records whose sector or
purpose is inside the grant's scope. Anything else is a refusal, a value with a reason that the
web layer logs (without personal data) and answers as "not found".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portal.projection import ALL_SCOPES


class Refusal(StrEnum):
    NOT_YOURS = "NOT_YOURS"  # the thing exists but belongs to another person
    NO_SUCH_THING = "NO_SUCH_THING"
    NO_PROXY_GRANT = "NO_PROXY_GRANT"  # no confirmed, live grant names the viewer
    OUTSIDE_SCOPE = "OUTSIDE_SCOPE"
    BAD_CSRF_TOKEN = "BAD_CSRF_TOKEN"  # noqa: S105 (a reason, not a secret)
    NOT_SIGNED_IN = "NOT_SIGNED_IN"
    NOT_ALLOWED = "NOT_ALLOWED"  # e.g. confirming a proposal one made oneself


class ProxyStatus(StrEnum):
    PENDING_PRINCIPAL = "PENDING_PRINCIPAL"  # proposed by the would-be proxy
    PENDING_PROXY = "PENDING_PROXY"  # proposed by the principal, the proxy has not accepted
    CONFIRMED = "CONFIRMED"
    REFUSED = "REFUSED"
    REVOKED = "REVOKED"


@dataclass(frozen=True, slots=True)
class Grant:
    principal_code: bytes
    proxy_code: bytes
    status: str
    scope: frozenset[str]
    expires_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.status == ProxyStatus.CONFIRMED and (
            self.expires_at is None or now < self.expires_at
        )


@dataclass(frozen=True, slots=True)
class View:
    """What a viewer may see of a principal's records: all, or a scope."""

    principal_code: bytes
    scope: frozenset[str] | None  # None: everything (the person themselves)

    @property
    def by_proxy(self) -> bool:
        return self.scope is not None

    def shows(self, sector: str | None, purpose: str | None) -> bool:
        if self.scope is None or ALL_SCOPES in self.scope:
            return True
        return (sector is not None and sector in self.scope) or (
            purpose is not None and purpose in self.scope
        )


def view_of(
    viewer_code: bytes, principal_code: bytes, grants: Iterable[Grant], now: datetime
) -> View | Refusal:
    """The view `viewer_code` has of `principal_code`'s records, or why none."""
    if viewer_code == principal_code:
        return View(principal_code, None)
    scopes = [
        g.scope
        for g in grants
        if g.principal_code == principal_code and g.proxy_code == viewer_code and g.live(now)
    ]
    if not scopes:
        return Refusal.NO_PROXY_GRANT
    return View(principal_code, frozenset().union(*scopes))


def owns(viewer_code: bytes, owner_code: bytes | None) -> Refusal | None:
    """A notice, consent or proxy row is the viewer's own, or a refusal."""
    if owner_code is None:
        return Refusal.NO_SUCH_THING
    return None if owner_code == viewer_code else Refusal.NOT_YOURS


def may_decide_proxy(viewer_code: bytes, grant: Grant) -> Refusal | None:
    """Only the party a pending proposal waits for may confirm or refuse it."""
    if grant.status == ProxyStatus.PENDING_PRINCIPAL and viewer_code == grant.principal_code:
        return None
    if grant.status == ProxyStatus.PENDING_PROXY and viewer_code == grant.proxy_code:
        return None
    if viewer_code not in (grant.principal_code, grant.proxy_code):
        return Refusal.NOT_YOURS
    return Refusal.NOT_ALLOWED


def may_revoke_proxy(viewer_code: bytes, grant: Grant) -> Refusal | None:
    """The principal or the proxy itself may end a voluntary grant (DOMAIN.md §14)."""
    if viewer_code not in (grant.principal_code, grant.proxy_code):
        return Refusal.NOT_YOURS
    if grant.status not in (
        ProxyStatus.CONFIRMED,
        ProxyStatus.PENDING_PRINCIPAL,
        ProxyStatus.PENDING_PROXY,
    ):
        return Refusal.NOT_ALLOWED
    return None
