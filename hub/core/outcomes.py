"""What the decision core returns: a route or a denial — values, not exceptions.

Person ids are left out of the repr, so a logged outcome leaks none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# An authorised request: forward an AttributeQuery to its provider. The route is the reply
# ticket itself (everything the hub needs when the answer comes back); the shell seals it into
# the query's reply token and encrypts the provider's code for the person
# (`Keyring.seal_route`), so deciding does no cryptography.
from hub.core.tokens import ReplyTicket as Route
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


__all__ = ["Decision", "Deny", "Route"]

Decision = Route | Deny
