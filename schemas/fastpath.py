"""Generated Avro binary coders for the *current* schema of each message: the codec's fast path.

fastavro stays the Avro implementation of the contract (schema parsing, canonical form and
fingerprints, resolution of released writer schemas, the evolution gate) and the reference the
fast path is checked against. But a general-purpose reader/writer pays, per message, for
walking the parsed schema, a stream object and (on the model path) an intermediate datum dict;
for the common case, a message written with the current schema, those costs exceed the work.

So for each current message schema this module generates, once at load time, two Python
functions specialised to that schema (straight-line code, nested records inlined):

* `encode(model) -> bytes`: the single-object header then the Avro binary body, read straight
  from the pydantic model's fields (zig-zag varints, lengths, union indexes written directly).
  Values are converted exactly as `schemas.mapping` converts them for fastavro: UUIDs as their
  string form, timestamps as UTC microseconds, dates as days, enums by member name, and
  AttributeValue through `Mappers.attribute_branch` (the catalogue decides the union branch).
* `decode(data) -> dict`: the model arguments `schemas.mapping` would produce from fastavro's
  plain datum (UUIDs as strings, timestamps as UTC datetimes, enum members, AttributeValue
  values unwrapped), for pydantic to validate exactly as before.

Both are an optimisation only, never a second opinion: they return a result only for input
they handle exactly as fastavro does, and raise (any exception) otherwise, upon which the codec
runs the fastavro path, which then produces the result or the error it always has. The
decoder gives up on anything unusual (a negative union or enum index, a boolean byte other
than 0/1, a varint longer than ten bytes or beyond 64 bits, a timestamp out of range, a
truncated or oversized body) and the encoder on any value outside what a validated model
holds. `tests/schemas/test_fastpath.py` proves, for every message type, that the generated
encoder writes byte-for-byte what fastavro writes and that the generated decoder agrees with
the fastavro path on valid and on mutated encodings.

A schema using a construct this module does not generate (a map, fixed, float, another
logical type, a general union outside AttributeValue) gets no fast path: `compile_codec`
returns None and the codec uses fastavro for that message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count
from struct import Struct
from typing import Any, cast
from uuid import UUID

from fastavro.read import LOGICAL_READERS

from schemas.mapping import (
    ATTRIBUTE_VALUE,
    HOUSEHOLD_MEMBER_LIST,
    STRING_LIST,
    Mappers,
)
from schemas.models import AVRO_ENUMS
from schemas.registry import Schema, fullname, named_types_map

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], dict[str, Any]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAYS_SHIFT = date(1970, 1, 1).toordinal()
_HANDLED_LOGICAL_TYPES = frozenset({"string-uuid", "long-timestamp-micros", "int-date"})
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Unsupported(Exception):
    """The schema uses a construct the generator does not handle (the message keeps fastavro)."""


class Refused(Exception):
    """The fast path does not handle this input; the caller falls back to fastavro."""


# ---- runtime helpers the generated code calls ---------------------------------------------

_SMALL = tuple(bytes(((i << 1) ^ (i >> 63),)) for i in range(-64, 64))
"""Zig-zag varint of -64..63 (one byte), indexed by value + 64."""
_LENGTH = tuple(bytes((i << 1,)) for i in range(64))
"""Zig-zag varint of a length 0..63 (one byte)."""
_UNZIG = tuple((i >> 1) ^ -(i & 1) for i in range(128))
"""Value of a one-byte zig-zag varint."""
_UNZIG_LENGTH = tuple(i >> 1 if i & 1 == 0 else 1 << 62 for i in range(128))
"""A one-byte length; a negative one becomes a length no input has (so it is refused)."""


_UUID_TEXT = 36
"""Bytes of a UUID's canonical text form (8-4-4-4-12 hex digits)."""
_UUID_LENGTH = bytes((_UUID_TEXT << 1,))
"""Its length as a zig-zag varint."""

_LAST = tuple(
    bytes((n,)) if n < 0x80 else bytes(((n & 0x7F) | 0x80, n >> 7)) for n in range(1 << 14)
)
"""Varint of 0..16383: the last one or two bytes of any varint."""
_MORE = tuple(bytes(((n & 0x7F) | 0x80, (n >> 7) | 0x80)) for n in range(1 << 14))
"""14 bits as two varint bytes, both with the continuation bit (a varint's lower bytes)."""


def _varint(n: int) -> bytes:
    """Varint of a non-negative (already zig-zagged) integer below 2**64, 14 bits at a time
    (a timestamp takes four table look-ups instead of eight loop turns)."""
    if n < 1 << 14:
        return _LAST[n]
    if n < 1 << 28:
        return _MORE[n & 0x3FFF] + _LAST[n >> 14]
    if n < 1 << 42:
        return _MORE[n & 0x3FFF] + _MORE[n >> 14 & 0x3FFF] + _LAST[n >> 28]
    if n < 1 << 56:
        return (
            _MORE[n & 0x3FFF] + _MORE[n >> 14 & 0x3FFF] + _MORE[n >> 28 & 0x3FFF] + _LAST[n >> 42]
        )
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _long(value: Any) -> bytes:
    """Zig-zag varint of a 64-bit int (not a bool, not out of range)."""
    if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
        raise Refused
    if -64 <= value < 64:
        return _SMALL[value + 64]
    return _varint((value << 1) ^ (value >> 63))


def long_bytes(value: int) -> bytes:
    """Avro's binary encoding of an int or long: its zig-zag varint (`Refused` beyond 64 bits).
    Also the length prefix of bytes and strings."""
    return _long(value)


def _int(value: Any) -> bytes:
    """Zig-zag varint of a 32-bit int."""
    if type(value) is not int or not _INT32_MIN <= value <= _INT32_MAX:
        raise Refused
    if -64 <= value < 64:
        return _SMALL[value + 64]
    return _varint((value << 1) ^ (value >> 63))


def _length(n: int) -> bytes:
    return _LENGTH[n] if n < 64 else _varint(n << 1)


def _read_long(data: bytes, p: int) -> tuple[int, int]:
    """The zig-zag varint at `p`, of two bytes or more: (value, next position). Unrolled up
    to eight bytes (a timestamp); IndexError at the end of the input."""
    b = data[p]
    n = b & 0x7F
    b = data[p + 1]
    n |= (b & 0x7F) << 7
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 2
    b = data[p + 2]
    n |= (b & 0x7F) << 14
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 3
    b = data[p + 3]
    n |= (b & 0x7F) << 21
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 4
    b = data[p + 4]
    n |= (b & 0x7F) << 28
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 5
    b = data[p + 5]
    n |= (b & 0x7F) << 35
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 6
    b = data[p + 6]
    n |= (b & 0x7F) << 42
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 7
    b = data[p + 7]
    n |= (b & 0x7F) << 49
    if b < 0x80:
        return (n >> 1) ^ -(n & 1), p + 8
    return _read_long_slow(data, p)


def _read_long_slow(data: bytes, p: int) -> tuple[int, int]:
    """Any varint; refuses more than ten bytes or more than 64 bits (fastavro would wrap
    them silently, so its path decides)."""
    n = 0
    shift = 0
    while True:
        b = data[p]
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise Refused
    if n >> 64:
        raise Refused
    return (n >> 1) ^ -(n & 1), p


def _read_length(data: bytes, p: int) -> tuple[int, int]:
    """A length of two bytes or more; a negative one is refused."""
    n, p = _read_long(data, p)
    if n < 0:
        raise Refused
    return n, p


def _refuse() -> Any:
    raise Refused


_RUNTIME: dict[str, Any] = {
    "_long": _long,
    "_varint": _varint,
    "_int": _int,
    "_length": _length,
    "_read_long": _read_long,
    "_read_length": _read_length,
    "_UNZIG_LENGTH": _UNZIG_LENGTH,
    "_timedelta": timedelta,
    "_refuse": _refuse,
    "_LENGTH": _LENGTH,
    "_UNZIG": _UNZIG,
    "_EPOCH": _EPOCH,
    "_MICROSECOND": _MICROSECOND,
    "_DAYS_SHIFT": _DAYS_SHIFT,
    "_fromordinal": date.fromordinal,
    "Refused": Refused,
    "_pack_float": Struct("<f").pack,
    "_pack_double": Struct("<d").pack,
    "_unpack_float": Struct("<f").unpack_from,
    "_unpack_double": Struct("<d").unpack_from,
}


# ---- the generator ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FastCodec:
    encode: Encoder
    """model -> single-object encoding (header and body); raises on anything unusual."""
    decode: Decoder
    """single-object encoding -> model arguments; raises on anything unusual."""
    source: str
    """The generated Python source (for reading and debugging)."""


class _Source:
    """Lines of generated code, unique local names and the constants they refer to."""

    def __init__(self, namespace: dict[str, Any], counter: count[int]) -> None:
        self.lines: list[str] = []
        self.namespace = namespace
        self.functions: list[str] = []  # helper functions generated alongside
        self.counter = counter  # shared by every function generated into `namespace`

    def name(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def constant(self, prefix: str, value: Any) -> str:
        name = self.name(f"_{prefix}")
        self.namespace[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _kind(schema: Schema) -> tuple[str, str | None]:
    """(Avro type name or full name, logical type) of a schema node."""
    if isinstance(schema, str):
        return schema, None
    if isinstance(schema, list):
        return "union", None
    kind = schema["type"]
    if not isinstance(kind, str):
        raise Unsupported("nested type wrapper")
    return kind, schema.get("logicalType")


class _Generator:
    def __init__(self, named: dict[str, Schema], mappers: Mappers, src: _Source) -> None:
        self.named = named
        self.mappers = mappers
        self.src = src

    def resolve(self, schema: Schema, namespace: str | None) -> tuple[Schema, str | None]:
        """A named reference replaced by its definition; (schema, its namespace)."""
        if isinstance(schema, str) and schema not in _PRIMITIVE_KINDS:
            name = fullname(schema, namespace)
            if name not in self.named:
                raise Unsupported(f"unknown type {name}")
            return self.named[name], name.rpartition(".")[0]
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum"):
            own = fullname(schema["name"], schema.get("namespace") or namespace)
            return schema, own.rpartition(".")[0]
        return schema, namespace

    @staticmethod
    def full(schema: dict[str, Any], namespace: str | None) -> str:
        return fullname(schema["name"], schema.get("namespace") or namespace)

    @staticmethod
    def check_logical(kind: str, logical: str | None) -> str | None:
        if logical is None:
            return None
        key = f"{kind}-{logical}"
        if key in _HANDLED_LOGICAL_TYPES:
            return logical
        if key in LOGICAL_READERS:
            raise Unsupported(f"logical type {logical}")
        return None  # an annotation fastavro ignores (agency-id, ...): the plain type

    # -- encoding: `value` is a Python expression (a local name); writes onto `b` ------------

    def encode(self, schema: Schema, ns: str | None, value: str, level: str, indent: int) -> None:
        """Append the encoding of `value` to the bytearray `b`. `level` is "model" (pydantic
        values) or "datum" (fastavro datum values, inside AttributeValue branches)."""
        src = self.src
        schema, ns = self.resolve(schema, ns)
        kind, logical = _kind(schema)
        logical = self.check_logical(kind, logical)
        if kind == "null":
            src.emit(indent, f"if {value} is not None: _refuse()")
        elif kind == "boolean":
            src.emit(indent, f'if {value} is True: b += b"\\x01"')
            src.emit(indent, f'elif {value} is False: b += b"\\x00"')
            src.emit(indent, "else: _refuse()")
        elif kind == "int" and logical == "date":
            if level != "model":
                raise Unsupported("date inside AttributeValue")
            src.emit(indent, f"if not isinstance({value}, _date): _refuse()")
            src.namespace["_date"] = date
            src.emit(indent, f"b += _int({value}.toordinal() - _DAYS_SHIFT)")
        elif kind == "int":
            src.emit(indent, f"b += _int({value})")
        elif kind == "long" and logical == "timestamp-micros":
            if level != "model":
                raise Unsupported("timestamp inside AttributeValue")
            # any aware datetime is within +-2**58 microseconds of the epoch: no range check
            src.emit(indent, f"z = ({value} - _EPOCH) // _MICROSECOND")
            src.emit(indent, "b += _varint((z << 1) ^ (z >> 63))")
        elif kind == "long":
            src.emit(indent, f"b += _long({value})")
        elif kind == "string" and logical == "uuid":
            if level != "model":
                raise Unsupported("uuid inside AttributeValue")
            src.namespace["_UUID"] = UUID
            src.emit(indent, f"if type({value}) is not _UUID: _refuse()")
            # str(uuid) spelt out on bytes: the canonical 8-4-4-4-12 lower-case hex form,
            # always 36 bytes, so its length is a constant
            src.emit(indent, f'h = b"%032x" % {value}.int')
            src.emit(indent, f"b += {_UUID_LENGTH!r}")
            src.emit(indent, 'b += b"-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))')
        elif kind == "string":
            encoded = src.name("s")
            src.emit(indent, f"if not isinstance({value}, str): _refuse()")
            src.emit(indent, f"{encoded} = {value}.encode()")
            self.encode_length(encoded, indent)
            src.emit(indent, f"b += {encoded}")
        elif kind in ("float", "double"):
            src.emit(indent, f"if type({value}) is not float: _refuse()")
            src.emit(indent, f"b += _pack_{kind}({value})")
        elif kind == "bytes":
            src.emit(indent, f"if type({value}) is not bytes: _refuse()")
            self.encode_length(value, indent)
            src.emit(indent, f"b += {value}")
        elif kind == "enum":
            self.encode_enum(schema, ns, value, level, indent)
        elif kind == "array":
            self.encode_array(schema, ns, value, level, indent)
        elif kind == "record":
            self.encode_record(schema, ns, value, level, indent)
        elif kind == "union":
            self.encode_optional(schema, ns, value, level, indent)
        else:
            raise Unsupported(f"Avro type {kind}")

    def encode_length(self, value: str, indent: int) -> None:
        n = self.src.name("n")
        self.src.emit(indent, f"{n} = len({value})")
        self.src.emit(indent, f"b += _LENGTH[{n}] if {n} < 64 else _length({n})")

    def encode_enum(
        self, schema: dict[str, Any], ns: str | None, value: str, level: str, indent: int
    ) -> None:
        symbols = list(schema["symbols"])
        index = {
            symbol: _SMALL[i + 64] if i < 64 else _varint(i << 1)
            for i, symbol in enumerate(symbols)
        }
        if level == "datum":  # the Avro symbol
            table = self.src.constant("symbols", index)
            self.src.emit(indent, f"b += {table}[{value}]")
            return
        enum = AVRO_ENUMS.get(self.full(schema, ns))
        if enum is None:
            raise Unsupported("no Python enum")
        by_member = {enum[symbol]: code for symbol, code in index.items()}
        cls = self.src.constant("enum", enum)
        table = self.src.constant("members", by_member)
        self.src.emit(indent, f"if type({value}) is not {cls}: _refuse()")
        self.src.emit(indent, f"b += {table}[{value}]")

    def encode_array(
        self, schema: dict[str, Any], ns: str | None, value: str, level: str, indent: int
    ) -> None:
        item = self.src.name("x")
        self.src.emit(indent, f"if type({value}) is not list: _refuse()")
        self.src.emit(indent, f"if {value}:")
        self.src.emit(indent + 1, f"b += _long(len({value}))")
        self.src.emit(indent + 1, f"for {item} in {value}:")
        self.encode(schema["items"], ns, item, level, indent + 2)
        self.src.emit(indent, 'b += b"\\x00"')

    def encode_record(
        self, schema: dict[str, Any], ns: str | None, value: str, level: str, indent: int
    ) -> None:
        fields = schema["fields"]
        own = self.full(schema, ns)
        record = self.src.name("r")
        if level == "model":
            self.src.emit(indent, f"{record} = {value}.__dict__")
        else:
            self.src.emit(indent, f"if type({value}) is not dict: _refuse()")
            self.src.emit(indent, f"{record} = {value}")
        self.src.emit(indent, f"if len({record}) != {len(fields)}: _refuse()")
        for field in fields:
            local = self.src.name("v")
            self.src.emit(indent, f"{local} = {record}[{field['name']!r}]")
            if own == ATTRIBUTE_VALUE and field["name"] == "value":
                if level != "model":
                    raise Unsupported("AttributeValue inside a datum")
                writer = self.attribute_value_writer(field["type"], ns)
                self.src.emit(indent, f"{writer}(b, {record}['name'], {local})")
            else:
                self.encode(field["type"], ns, local, level, indent)

    def encode_optional(
        self, union: list[Any], ns: str | None, value: str, level: str, indent: int
    ) -> None:
        if len(union) != 2 or "null" not in union:
            raise Unsupported("a union other than [null, T] outside AttributeValue")
        null_index = union.index("null")
        other = union[1 - null_index]
        self.src.emit(indent, f"if {value} is None:")
        self.src.emit(indent + 1, f"b += {_SMALL[null_index + 64]!r}")
        self.src.emit(indent, "else:")
        self.src.emit(indent + 1, f"b += {_SMALL[1 - null_index + 64]!r}")
        self.encode(other, ns, value, level, indent + 1)

    def attribute_value_writer(self, union: list[Any], ns: str | None) -> str:
        """A generated function (b, name, value) writing AttributeValue.value: the branch is
        `Mappers.attribute_branch`'s choice, the same the fastavro path makes, and its datum
        (fastavro's form: enum symbols, {"items": [...]} lists) is written inline."""
        self.src.namespace["_attribute_branch"] = self.mappers.attribute_branch
        sub = _Generator(self.named, self.mappers, _Source(self.src.namespace, self.src.counter))
        function = sub.src.name("_write_attribute_value")
        emit = sub.src.emit
        emit(0, f"def {function}(b, name, value):")
        emit(1, "chosen = _attribute_branch(name, value)")
        first = True
        for i, branch in enumerate(union):
            resolved, branch_ns = self.resolve(branch, ns)
            kind, _ = _kind(resolved)
            if kind == "null":
                emit(1, "if chosen is None:")
                emit(2, f"b += {_SMALL[i + 64]!r}")
                emit(2, "return")
                continue
            if first:
                emit(1, "branch, datum = chosen")
                first = False
            name = self.full(resolved, branch_ns) if kind in ("record", "enum") else kind
            emit(1, f"if branch == {name!r}:")
            emit(2, f"b += {_SMALL[i + 64]!r}")
            sub.encode(resolved, branch_ns, "datum", "datum", 2)
            emit(2, "return")
        emit(1, "_refuse()")
        self.src.functions.extend(sub.src.functions)
        self.src.functions.append("\n".join(sub.src.lines))
        return function

    # -- decoding: reads `data` from local `p`, leaves the value in local `target` ----------

    def read_varint(self, target: str, indent: int, length: bool = False) -> None:
        src = self.src
        table, reader = ("_UNZIG_LENGTH", "_read_length") if length else ("_UNZIG", "_read_long")
        src.emit(indent, "x = data[p]")
        src.emit(indent, f"if x < 128: {target} = {table}[x]; p += 1")
        src.emit(indent, f"else: {target}, p = {reader}(data, p)")

    def decode(
        self,
        schema: Schema,
        ns: str | None,
        target: str,
        indent: int,
        attribute_value: bool = False,
    ) -> None:
        src = self.src
        schema, ns = self.resolve(schema, ns)
        kind, logical = _kind(schema)
        logical = self.check_logical(kind, logical)
        if kind == "null":
            src.emit(indent, f"{target} = None")
        elif kind == "boolean":
            src.emit(indent, "x = data[p]; p += 1")
            src.emit(indent, "if x > 1: raise Refused")
            src.emit(indent, f"{target} = x == 1")
        elif kind == "int" and logical == "date":
            self.read_varint(target, indent)
            src.emit(indent, f"{target} = _fromordinal({target} + _DAYS_SHIFT)")
        elif kind in ("int", "long"):
            self.read_varint(target, indent)
            if logical == "timestamp-micros":
                src.emit(indent, f"{target} = _EPOCH + _timedelta(0, 0, {target})")
        elif kind in ("float", "double"):
            width = 4 if kind == "float" else 8
            src.emit(indent, f"{target} = _unpack_{kind}(data, p)[0]")
            src.emit(indent, f"p += {width}")
        elif kind == "string" and logical == "uuid":
            # what the encoder writes (36 bytes); any other length is left to fastavro's path
            src.emit(indent, f"if data[p] != {_UUID_LENGTH[0]}: raise Refused")
            src.emit(indent, f"e = p + {_UUID_TEXT + 1}")
            src.emit(indent, "if e > end: raise Refused")
            src.emit(indent, f"{target} = data[p + 1:e].decode(); p = e")
        elif kind in ("string", "bytes"):
            n = src.name("n")
            self.read_varint(n, indent, length=True)
            src.emit(indent, f"e = p + {n}")
            src.emit(indent, "if e > end: raise Refused")
            if kind == "string":
                src.emit(indent, f"{target} = data[p:e].decode(); p = e")
            else:
                src.emit(indent, f"{target} = data[p:e]; p = e")
        elif kind == "enum":
            enum = AVRO_ENUMS.get(self.full(schema, ns))
            if enum is None:
                raise Unsupported("no Python enum")
            members = src.constant("members", tuple(enum[s] for s in schema["symbols"]))
            i = src.name("i")
            self.read_varint(i, indent)
            src.emit(indent, f"if not 0 <= {i} < {len(schema['symbols'])}: raise Refused")
            src.emit(indent, f"{target} = {members}[{i}]")
        elif kind == "array":
            self.decode_array(schema, ns, target, indent)
        elif kind == "record":
            self.decode_record(schema, ns, target, indent)
        elif kind == "union":
            self.decode_union(schema, ns, target, indent, attribute_value)
        else:
            raise Unsupported(f"Avro type {kind}")

    def decode_array(
        self, schema: dict[str, Any], ns: str | None, target: str, indent: int
    ) -> None:
        src = self.src
        items, _ = self.resolve(schema["items"], ns)
        if _kind(items)[0] == "null":
            raise Unsupported("array of null")
        count, item = src.name("c"), src.name("y")
        src.emit(indent, f"{target} = []")
        self.read_varint(count, indent)
        src.emit(indent, f"while {count}:")
        src.emit(indent + 1, f"if {count} < 0:")
        src.emit(indent + 2, f"{count} = -{count}")
        self.read_varint("_", indent + 2)  # the block's size in bytes
        src.emit(indent + 1, f"for _ in range({count}):")
        self.decode(schema["items"], ns, item, indent + 2)
        src.emit(indent + 2, f"{target}.append({item})")
        self.read_varint(count, indent + 1)

    def decode_record(
        self, schema: dict[str, Any], ns: str | None, target: str, indent: int
    ) -> None:
        own = self.full(schema, ns)
        locals_ = []
        for field in schema["fields"]:
            local = self.src.name("v")
            locals_.append((field["name"], local))
            special = own == ATTRIBUTE_VALUE and field["name"] == "value"
            self.decode(field["type"], ns, local, indent, attribute_value=special)
        items = ", ".join(f"{name!r}: {local}" for name, local in locals_)
        self.src.emit(indent, f"{target} = {{{items}}}")

    def decode_union(
        self, union: list[Any], ns: str | None, target: str, indent: int, attribute_value: bool
    ) -> None:
        if not attribute_value and (len(union) != 2 or "null" not in union):
            raise Unsupported("a union other than [null, T] outside AttributeValue")
        src = self.src
        i = src.name("i")
        self.read_varint(i, indent)
        for index, branch in enumerate(union):
            src.emit(indent, f"{'if' if index == 0 else 'elif'} {i} == {index}:")
            self.decode(branch, ns, target, indent + 1)
            if attribute_value:
                resolved, branch_ns = self.resolve(branch, ns)
                if _kind(resolved)[0] == "record":
                    if self.full(resolved, branch_ns) not in (STRING_LIST, HOUSEHOLD_MEMBER_LIST):
                        raise Unsupported("an AttributeValue record branch without items")
                    src.emit(indent + 1, f"{target} = {target}['items']")
        src.emit(indent, "else: raise Refused")


_PRIMITIVE_KINDS = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)


def compile_codec(schema: Schema, header: bytes, mappers: Mappers) -> FastCodec | None:
    """The fast coders of one current message schema (expanded, with its logical types), or
    None when the schema uses a construct the generator does not handle."""
    namespace: dict[str, Any] = dict(_RUNTIME)
    src = _Source(namespace, count())
    try:
        generator = _Generator(named_types_map(schema), mappers, src)
        namespace["_HEADER"] = header
        src.emit(0, "def encode(model):")
        src.emit(1, "b = bytearray(_HEADER)")
        generator.encode(schema, None, "model", "model", 1)
        src.emit(1, "return bytes(b)")
        src.emit(0, "")
        src.emit(0, "def decode(data):")
        src.emit(1, f"p = {len(header)}")
        src.emit(1, "end = len(data)")
        generator.decode(schema, None, "result", 1)
        src.emit(1, "if p != end: raise Refused")
        src.emit(1, "return result")
    except Unsupported:
        return None
    source = "\n\n".join([*src.functions, "\n".join(src.lines)]) + "\n"
    exec(compile(source, f"<fastpath {schema['name']}>", "exec"), namespace)  # noqa: S102 - generated from our own schema files
    return FastCodec(cast(Encoder, namespace["encode"]), cast(Decoder, namespace["decode"]), source)


__all__ = ["FastCodec", "Refused", "Unsupported", "compile_codec", "long_bytes"]
