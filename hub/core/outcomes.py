"""What the decision core returns: a route or a denial — values, not exceptions.

Codes, tokens and person ids are left out of the repr, so a logged outcome leaks none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

from schemas.vocabulary import DenialReason, Sector

if TYPE_CHECKING:
    from hub.core.legal_basis import Row


@dataclass(frozen=True, slots=True)
class Deny:
    """A refused message. `message` is plain text for people and never holds personal data.

    The context fields (when known at the step that refused) are for the provision record.
    """

    reason: DenialReason
    message: str
    person_id: bytes | None = field(default=None, repr=False)
    proxy_person_id: bytes | None = field(default=None, repr=False)
    row: str | None = None
    sector: Sector | None = None
    table_version: str | None = None

    def at(self, row: Row, table_version: str, person_id: bytes, proxy: bytes | None) -> Deny:
        """The same denial with the context known once the legal-basis row is found."""
        return Deny(self.reason, self.message, person_id, proxy, row.id, row.sector, table_version)


class Route(NamedTuple):
    """An authorised request: forward an AttributeQuery to `provider`.

    A named tuple because one is built per routed request (cheaper than a frozen dataclass);
    its repr leaves out the provider's code, the token and the person ids.
    """

    request_id: UUID
    requester: str
    provider: str
    provider_code: bytes
    purpose: str
    attributes: tuple[str, ...]  # the authorised names, in the order requested
    reply_token: bytes
    row: str
    sector: Sector
    table_version: str
    trigger_event_id: UUID
    person_id: bytes
    proxy_person_id: bytes | None

    def __repr__(self) -> str:
        return (
            f"Route(request_id={self.request_id}, requester={self.requester!r}, "
            f"provider={self.provider!r}, row={self.row!r}, attributes={self.attributes!r})"
        )


Decision = Route | Deny
