"""Consent tokens (同意トークン): a person's consent, carried by a medical institution to the hub.

DOMAIN.md §14: a `ConsentGiven` counts when the person gives it through the portal, or when a
medical institution presents a consent token the person issued in the portal: short-lived,
bound to that institution and one purpose, verified by the hub.

Design. The portal signs the token with an Ed25519 key of its own; the hub holds only the
public half (listed as a trusted issuer in its key set), so neither side needs the other's
secret and the hub verifies a token without any state or round trip. The token names:

- `token_id`, a random id (also what a person sees on the portal's list of issued tokens);
- `institution`, the one agency that may present it (the hub compares the sender);
- `purpose`, the one purpose (事務) it consents to;
- `issued_at` / `expires_at`, at most `MAX_TOKEN_LIFETIME` apart;
- `consent_until`, when the consent it gives lapses (None: until withdrawn);
- `person_binding`, SHA-256 over the token id and the *portal's* link code for the person.
  The institution cannot reverse it or link it to another token (the token id salts it), yet the
  hub, which can compute the portal's code for the person the institution names by its own
  code, checks that the token was issued for that person and no other.

Wire form (text, so it fits a QR code or a form field): `rct1.<key id>.<payload>.<signature>`,
payload = base64url of canonical JSON, signature = base64url of Ed25519 over
`b"renkei consent token v1\\0" + payload bytes`.

The portal calls `issue_consent_token`; the hub calls `read_consent_token` then checks the
result against the event with `ConsentTokenClaims.refusal`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "rct1"
MAX_TOKEN_LIFETIME = timedelta(hours=1)
DEFAULT_TOKEN_LIFETIME = timedelta(minutes=15)
CLOCK_SKEW = timedelta(minutes=5)  # the portal's clock may run this far ahead of the hub's
_SIGNED_DOMAIN = b"renkei consent token v1\x00"
_BINDING_DOMAIN = b"renkei consent token person v1\x00"


class ConsentTokenError(ValueError):
    """A consent token cannot be issued or read; the message names the rule, never a code."""


def person_binding(token_id: uuid.UUID, portal_person_code: bytes) -> bytes:
    """What binds a token to one person without naming them to the institution."""
    return hashlib.sha256(_BINDING_DOMAIN + token_id.bytes + portal_person_code).digest()


@dataclass(frozen=True, slots=True)
class ConsentTokenClaims:
    """What a verified token says."""

    token_id: uuid.UUID
    key_id: str
    institution: str
    purpose: str
    issued_at: datetime
    expires_at: datetime
    consent_until: datetime | None
    person_binding: bytes

    def refusal(
        self, presenter: str, purpose: str, portal_person_code: bytes, now: datetime
    ) -> str | None:
        """Why this token does not support `presenter`'s consent for `purpose` about the
        person whose portal code is given (None: it does). Never names a code."""
        if presenter != self.institution:
            return f"the consent token was issued for {self.institution}, not {presenter}"
        if purpose != self.purpose:
            return "the consent token was issued for another purpose"
        if self.expires_at - self.issued_at > MAX_TOKEN_LIFETIME:
            return f"a consent token lives at most {MAX_TOKEN_LIFETIME}"
        if not self.issued_at - CLOCK_SKEW <= now < self.expires_at:
            return "the consent token is not valid at this time"
        if person_binding(self.token_id, portal_person_code) != self.person_binding:
            return "the consent token was issued for another person"
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


def issue_consent_token(
    signing_key: Ed25519PrivateKey,
    key_id: str,
    *,
    portal_person_code: bytes,
    institution: str,
    purpose: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    consent_until: datetime | None = None,
    token_id: uuid.UUID | None = None,
) -> str:
    """A consent token the person hands to `institution` (portal side).

    `portal_person_code` is the portal's own link code for the signed-in person."""
    if not timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME:
        raise ConsentTokenError(f"a consent token lives at most {MAX_TOKEN_LIFETIME}")
    if "." in key_id or not key_id:
        raise ConsentTokenError("a key id is a non-empty word without dots")
    tid = token_id or uuid.uuid4()
    payload = {
        "id": str(tid),
        "institution": institution,
        "purpose": purpose,
        "iat": _micros(now),
        "exp": _micros(now + lifetime),
        "until": None if consent_until is None else _micros(consent_until),
        "person": _b64(person_binding(tid, portal_person_code)),
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    signature = signing_key.sign(_SIGNED_DOMAIN + body)
    return f"{PREFIX}.{key_id}.{_b64(body)}.{_b64(signature)}"


def read_consent_token(token: str, trusted: Mapping[str, Ed25519PublicKey]) -> ConsentTokenClaims:
    """Check the token's form and signature under the issuer key it names (hub side).

    Raises ConsentTokenError when it is not a token, names an unknown key or was altered."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise ConsentTokenError(f"not a consent token (expected {PREFIX}.<key>.<body>.<sig>)")
    _, key_id, body_text, signature_text = parts
    key = trusted.get(key_id)
    if key is None:
        raise ConsentTokenError(f"consent token signed with an untrusted key {key_id[:40]!r}")
    try:
        body, signature = _unb64(body_text), _unb64(signature_text)
        key.verify(signature, _SIGNED_DOMAIN + body)
    except (ValueError, InvalidSignature) as exc:
        raise ConsentTokenError("the consent token's signature does not verify") from exc
    try:
        payload = json.loads(body)
        until = payload["until"]
        return ConsentTokenClaims(
            token_id=uuid.UUID(payload["id"]),
            key_id=key_id,
            institution=str(payload["institution"]),
            purpose=str(payload["purpose"]),
            issued_at=_moment(int(payload["iat"])),
            expires_at=_moment(int(payload["exp"])),
            consent_until=None if until is None else _moment(int(until)),
            person_binding=_unb64(payload["person"]),
        )
    except (ValueError, KeyError, TypeError) as exc:  # signed by a trusted key, yet malformed
        raise ConsentTokenError("the consent token's body is malformed") from exc


def public_key_hex(signing_key: Ed25519PrivateKey) -> str:
    """The public half of an issuer key, as the hub's key set lists trusted issuers."""
    return signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
