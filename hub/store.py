"""A partition store: one input partition's state, writing its own changelog.

State is a set of typed tables (`Table`, a mapping) and single values (`Cell`). Every set and
delete is remembered; `flush()` turns what changed since the last flush into the changelog
records of the transaction (the latest value of each changed key, or a tombstone), and
`restore()` rebuilds the state from those records. A changelog key is one tag byte naming the
table, then the table's encoding of the key; the key codec lives here and nowhere else.
(The shape of faust's `Table.on_key_set` and quix-streams' per-partition transaction cache.)
Each step (one input record) can also be taken back (`take_back`) if it fails half-way, so a
record that makes the hub's code fail leaves no half-made change behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()


class StoreError(Exception):
    """A changelog record the store cannot read: the changelog was not written by this code."""


class Table(MutableMapping[K, V], Generic[K, V]):
    """One kind of state in a partition, as a dict whose sets and deletes the store records."""

    def __init__(
        self,
        store: PartitionStore,
        tag: bytes,
        key_bytes: Callable[[K], bytes],
        key_of: Callable[[bytes], K],
        value_bytes: Callable[[V], bytes],
        value_of: Callable[[bytes], V],
    ) -> None:
        self._store = store
        self._tag = tag
        self._key_bytes = key_bytes
        self._key_of = key_of
        self._value_bytes = value_bytes
        self._value_of = value_of
        self._data: dict[K, V] = {}

    # The hot path reads through these; MutableMapping's defaults go through exceptions.
    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def get(self, key: K, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setitem__(self, key: K, value: V) -> None:
        self._remember(key)
        self._data[key] = value

    def __delitem__(self, key: K) -> None:
        self._remember(key)
        del self._data[key]

    def _remember(self, key: K) -> None:
        store = self._store
        store._changed[self._tag + self._key_bytes(key)] = (self, key)
        undo = store._undo
        if (id(self), key) not in undo:
            undo[(id(self), key)] = (self, self._data.get(key, _MISSING))

    def _undo(self, key: K, previous: Any) -> None:
        if previous is _MISSING:
            self._data.pop(key, None)
        else:
            self._data[key] = previous

    def __repr__(self) -> str:  # never the keys or values: they may be person ids
        return f"Table({self._tag!r}, {len(self._data)} entries)"

    def _current(self, key: K) -> bytes | None:
        value = self._data.get(key, _MISSING)
        return None if value is _MISSING else self._value_bytes(value)

    def _restore(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self._data.pop(self._key_of(key), None)
        else:
            self._data[self._key_of(key)] = self._value_of(value)


class Cell(Generic[V]):
    """A single value in a partition (a chain head), recorded like a table entry."""

    def __init__(
        self,
        store: PartitionStore,
        tag: bytes,
        default: V,
        value_bytes: Callable[[V], bytes],
        value_of: Callable[[bytes], V],
    ) -> None:
        self._store = store
        self._tag = tag
        self._value = default
        self._value_bytes = value_bytes
        self._value_of = value_of

    def get(self) -> V:
        return self._value

    def set(self, value: V) -> None:
        store = self._store
        store._changed[self._tag] = (self, None)
        if (id(self), None) not in store._undo:
            store._undo[(id(self), None)] = (self, self._value)
        self._value = value

    def _undo(self, _key: None, previous: V) -> None:
        self._value = previous

    def _current(self, _key: None) -> bytes | None:
        return self._value_bytes(self._value)

    def _restore(self, _key: bytes, value: bytes | None) -> None:
        if value is not None:
            self._value = self._value_of(value)


class PartitionStore:
    """The tables of one partition. Subclasses declare their tables with `table`/`cell`."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self._tables: dict[bytes, Table[Any, Any] | Cell[Any]] = {}
        self._changed: dict[bytes, tuple[Table[Any, Any] | Cell[Any], Any]] = {}
        # the value each key had before the current step, to take the step back
        self._undo: dict[tuple[int, Any], tuple[Table[Any, Any] | Cell[Any], Any]] = {}

    def table(
        self,
        tag: bytes,
        key_bytes: Callable[[K], bytes],
        key_of: Callable[[bytes], K],
        value_bytes: Callable[[V], bytes],
        value_of: Callable[[bytes], V],
    ) -> Table[K, V]:
        table: Table[K, V] = Table(self, tag, key_bytes, key_of, value_bytes, value_of)
        self._register(tag, table)
        return table

    def cell(
        self,
        tag: bytes,
        default: V,
        value_bytes: Callable[[V], bytes],
        value_of: Callable[[bytes], V],
    ) -> Cell[V]:
        cell = Cell(self, tag, default, value_bytes, value_of)
        self._register(tag, cell)
        return cell

    def _register(self, tag: bytes, holder: Table[Any, Any] | Cell[Any]) -> None:
        if len(tag) != 1 or tag in self._tables:
            raise ValueError(f"a table tag is one byte, used once: {tag!r}")
        self._tables[tag] = holder

    def keep(self) -> None:
        """The current step (one input record) succeeded: its changes stay."""
        self._undo.clear()

    def take_back(self) -> None:
        """The current step failed half-way: every key it changed gets its value back (the
        changelog then writes that value again, which is harmless)."""
        for (_, key), (holder, previous) in self._undo.items():
            holder._undo(key, previous)
        self._undo.clear()

    def flush(self) -> list[tuple[bytes, bytes | None]]:
        """The changelog records (key, value or None for a tombstone) for what changed since
        the last flush, one per changed key with its latest value; forgets the changes."""
        records = [(key, holder._current(k)) for key, (holder, k) in self._changed.items()]
        self._changed.clear()
        self._undo.clear()
        return records

    def restore(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record to the state being rebuilt."""
        holder = self._tables.get(key[:1])
        if holder is None:
            raise StoreError(f"unknown changelog key tag {key[:1]!r}")
        try:
            holder._restore(key[1:], value)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise StoreError(f"unreadable changelog record of table {key[:1]!r}") from exc
