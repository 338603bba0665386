"""Notice receipts: how the hub knows an acknowledgement (到達確認) is for a notice it delivered.

When the hub delivers a `Notice` to the portal it adds a receipt: the notice id, the person it
was delivered for, the sending agency and the time, encrypted and authenticated (AES-SIV under
the reply-token keys, with its own associated data, so a reply token is never a receipt). The
portal returns the receipt in its `NoticeAcknowledged`; the hub opens it and routes the
confirmation to the sender the receipt names, never to one the acknowledgement claims. An
acknowledgement without a receipt the hub made, or for another notice, is refused: nobody can
confirm delivery of a notice that never existed, and the hub keeps no table of notices to know
it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from hub.core.keys import KeyGenerations

_AD = b"renkei notice receipt v1"
_HEADER = struct.Struct(">16s16sq")  # notice id, person id, delivered at


@dataclass(frozen=True, slots=True)
class NoticeReceipt:
    notice_id: UUID
    person_id: bytes = b""
    sender: str = ""
    delivered_at: int = 0

    def __repr__(self) -> str:
        return f"NoticeReceipt(notice_id={self.notice_id}, sender={self.sender!r})"


class NoticeReceipts:
    """Issue and open notice receipts for one recipient (the portal)."""

    __slots__ = ("_ciphers", "_current")

    def __init__(self, generations: KeyGenerations) -> None:
        self._current = generations.current
        self._ciphers = {kid: AESSIV(key) for kid, key in generations.keys.items()}

    def issue(self, receipt: NoticeReceipt, recipient: str) -> bytes:
        plain = (
            _HEADER.pack(receipt.notice_id.bytes, receipt.person_id, receipt.delivered_at)
            + receipt.sender.encode()
        )
        sealed = self._ciphers[self._current].encrypt(plain, [_AD, recipient.encode()])
        return bytes((self._current,)) + sealed

    def open(self, receipt: bytes | None, recipient: str, notice_id: UUID) -> NoticeReceipt | None:
        """The receipt `recipient` presents for `notice_id`, or None if it is missing, forged,
        made for someone else or for another notice."""
        cipher = self._ciphers.get(receipt[0]) if receipt else None
        if cipher is None or receipt is None:
            return None
        try:
            plain = cipher.decrypt(receipt[1:], [_AD, recipient.encode()])
        except InvalidTag:
            return None
        if len(plain) < _HEADER.size:
            return None
        notice, person, at = _HEADER.unpack_from(plain)
        if notice != notice_id.bytes:
            return None
        return NoticeReceipt(UUID(bytes=notice), person, plain[_HEADER.size :].decode(), at)
