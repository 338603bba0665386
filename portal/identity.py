"""Sign-in: who the person is, behind one interface a real identity provider can replace.

In production the My Number card's signing certificate (公的個人認証) proves who signs in and
yields the individual number the portal enrols once. `DevelopmentIdentityProvider` stands in
for it: a person chooses (or is issued) a test identity from the synthetic population. The
individual number leaves this module only toward the portal agency's enrolment; the session
holds an opaque account id, never the number.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from agencies.population import Person, Population


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in person as the identity provider vouches for them."""

    subject: str  # stable, opaque, per provider: the account is keyed by it
    display_name: str
    individual_number: str = field(repr=False)  # for the one enrolment; never stored


class IdentityProvider(Protocol):
    """What the portal needs from an identity provider."""

    name: str

    def authenticate(self, credential: str) -> Identity | None:
        """The identity `credential` proves, or None."""
        ...


class DevelopmentIdentityProvider:
    """Test identities from the synthetic population; the credential is the identity's id
    (`test-<index>`), which stands in for presenting the card and its PIN."""

    name = "development"

    def __init__(self, population: Population, *, subject_key: bytes | None = None) -> None:
        self.population = population
        # Subjects must be stable across restarts (accounts are keyed by them).
        self._key = subject_key or b"renkei-development-identity-provider"
        self._by_id = {self.credential_of(p): p for p in population.persons}

    @staticmethod
    def credential_of(person: Person) -> str:
        return f"test-{person.index:05d}"

    def display_name(self, person: Person) -> str:
        return f"テスト利用者 {person.index:05d}"

    def choices(self, limit: int = 12) -> list[tuple[str, str]]:
        """A few test identities to offer on the sign-in page: (credential, label)."""
        return [
            (self.credential_of(p), f"{self.display_name(p)} ({p.birth_date.year})")
            for p in self.population.persons[:limit]
        ]

    def issue(self) -> str:
        """A test identity chosen at random (the 'issue me one' button)."""
        person = self.population.persons[secrets.randbelow(len(self.population.persons))]
        return self.credential_of(person)

    def authenticate(self, credential: str) -> Identity | None:
        person = self._by_id.get(credential.strip())
        if person is None:
            return None
        subject = hmac.new(self._key, person.individual_number.encode(), hashlib.sha256)
        return Identity(
            subject.hexdigest()[:32], self.display_name(person), person.individual_number
        )
