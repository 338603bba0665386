"""Notice receipts: an acknowledgement counts only for a notice the hub delivered."""

from __future__ import annotations

import uuid

from hub.core.notice_receipts import NoticeReceipt

from .conftest import make_keyring


def test_a_receipt_names_the_notice_the_person_and_the_sender_it_was_delivered_for() -> None:
    receipts = make_keyring().notice_receipts
    notice = uuid.uuid4()
    issued = receipts.issue(NoticeReceipt(notice, bytes(16), "jps", 1_700_000_000), "portal")
    opened = receipts.open(issued, "portal", notice)
    assert opened == NoticeReceipt(notice, bytes(16), "jps", 1_700_000_000)


def test_no_receipt_for_another_notice_recipient_or_key_and_none_forged() -> None:
    keys = make_keyring()
    notice = uuid.uuid4()
    issued = keys.notice_receipts.issue(NoticeReceipt(notice, bytes(16), "jps", 0), "portal")
    assert keys.notice_receipts.open(issued, "portal", uuid.uuid4()) is None
    assert keys.notice_receipts.open(issued, "mun-13101", notice) is None
    assert make_keyring(seed=9).notice_receipts.open(issued, "portal", notice) is None
    assert keys.notice_receipts.open(None, "portal", notice) is None
    assert keys.notice_receipts.open(b"\x01" + bytes(40), "portal", notice) is None
