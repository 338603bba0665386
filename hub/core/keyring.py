"""The key set made ready for use: link-code and reply-token ciphers and the blind-index key."""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.blind_index import number_index
from hub.core.keys import KeySet
from hub.core.linkcodes import LinkCodes
from hub.core.tokens import ReplyTokens

DEFAULT_TOKEN_TTL_SECONDS = 7 * 86_400  # providers answering from nightly batches still make it


@dataclass(frozen=True, slots=True)
class Keyring:
    codes: LinkCodes
    tokens: ReplyTokens
    blind_index_key: bytes
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS

    @classmethod
    def from_key_set(
        cls, key_set: KeySet, token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    ) -> Keyring:
        return cls(
            LinkCodes(key_set.link_codes),
            ReplyTokens(key_set.reply_tokens),
            key_set.blind_index,
            token_ttl_seconds,
        )

    def number_index(self, number: str) -> bytes:
        return number_index(self.blind_index_key, number)
