"""The portal's consent-token issuer key (同意トークン; the token itself: `schemas.consent_token`).

The portal signs with an Ed25519 key; the hub trusts its public half (`renkei portal
token-key` prints it for the hub's key set). The key comes from RENKEI_PORTAL_TOKEN_KEY (the
32-byte private seed in hex, from a secret store); without it a development key is made per run,
which a hub can trust only for that run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.consent_token import public_key_hex

KEY_VARIABLE = "RENKEI_PORTAL_TOKEN_KEY"
KEY_ID_VARIABLE = "RENKEI_PORTAL_TOKEN_KEY_ID"


class TokenKeyError(ValueError):
    """The configured issuer key is unusable (the operator's setting)."""


@dataclass(frozen=True)
class TokenIssuer:
    key_id: str
    signing_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key_hex(self) -> str:
        return public_key_hex(self.signing_key)

    @classmethod
    def from_environment(cls) -> TokenIssuer:
        key_id = os.environ.get(KEY_ID_VARIABLE, "portal-1")
        seed = os.environ.get(KEY_VARIABLE)
        if not seed:
            return cls(key_id, Ed25519PrivateKey.generate())
        try:
            return cls(key_id, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed)))
        except ValueError:
            raise TokenKeyError(f"{KEY_VARIABLE} must be 64 hex digits (a 32-byte seed)") from None
