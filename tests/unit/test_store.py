"""The partition store: every set and delete becomes one changelog record per key with its
latest value, and the records rebuild the state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.store import PartitionStore, StoreError


class Counters(PartitionStore):
    def __init__(self) -> None:
        super().__init__(3)
        self.counts = self.table(
            b"c", str.encode, bytes.decode, lambda n: n.to_bytes(8, "big"), int.from_bytes
        )
        self.last = self.cell(b"l", "", str.encode, bytes.decode)


def replayed(records: list[tuple[bytes, bytes | None]], into: Counters | None = None) -> Counters:
    store = Counters() if into is None else into
    for key, value in records:
        store.restore(key, value)
    return store


def test_a_flush_writes_each_changed_key_once_with_its_latest_value_or_a_tombstone() -> None:
    store = Counters()
    store.counts["mun-13101"] = 1
    store.counts["mun-13101"] = 2
    store.counts["jps"] = 5
    del store.counts["jps"]
    store.last.set("mun-13101")
    records = store.flush()
    assert sorted(records) == sorted(
        [(b"cmun-13101", (2).to_bytes(8, "big")), (b"cjps", None), (b"l", b"mun-13101")]
    )
    assert store.flush() == []  # nothing changed since


def test_a_read_does_not_write_the_changelog() -> None:
    store = Counters()
    store.counts["jps"] = 1
    store.flush()
    assert store.counts.get("jps") == 1
    assert "jps" in store.counts
    assert len(store.counts) == 1
    assert store.flush() == []


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.none() | st.integers(0, 99))))
def test_the_changelog_of_any_history_rebuilds_the_state(
    steps: list[tuple[str, int | None]],
) -> None:
    store, log = Counters(), []
    for i, (key, value) in enumerate(steps):
        if value is None:
            store.counts.pop(key, None)
        else:
            store.counts[key] = value
        if i % 3 == 0:  # transactions of varying size
            log.extend(store.flush())
    log.extend(store.flush())
    assert dict(replayed(log).counts) == dict(store.counts)


def test_a_record_of_an_unknown_table_or_an_unreadable_value_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        Counters().restore(b"Qxyz", b"1")
    with pytest.raises(StoreError):
        Counters().restore(b"l", b"\xff")  # not UTF-8


def test_a_table_tag_is_one_byte_used_once() -> None:
    store = PartitionStore(0)
    store.table(b"x", str.encode, bytes.decode, str.encode, bytes.decode)
    with pytest.raises(ValueError, match="one byte, used once"):
        store.table(b"x", str.encode, bytes.decode, str.encode, bytes.decode)
    with pytest.raises(ValueError, match="one byte, used once"):
        store.table(b"xy", str.encode, bytes.decode, str.encode, bytes.decode)
