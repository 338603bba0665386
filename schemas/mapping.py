"""Model <-> Avro datum conversion, compiled once per record type from the schema files.

The model path reads and writes with *plain* schemas: the same schemas with the `uuid` and
`timestamp-micros` logical types removed (the bytes on the wire and the fingerprints are
identical, logical types are not part of the parsing canonical form). fastavro's logical-type
conversions cost about a microsecond per value; here UUIDs travel as their string form, which
pydantic parses natively, and timestamps as microseconds converted with integer arithmetic.
Everything else needs no conversion except enums (the Avro symbol is the Python member
*name*), nested records, and the AttributeValue union, whose branch is chosen from the attribute
catalogue so that a value travels in exactly the catalogue's Avro type (an `int` attribute as
`int`, a `long` one as `long`, an enum as its own enum) and comes back as the same Python type.

Encoding reads a model's `__dict__` (pydantic keeps fields there) and only touches the fields
that need converting; decoding converts the fastavro dict in place and leaves validation to
pydantic. Both are built from the `.avsc` definitions, so a schema field the mapping does not
understand fails at import, not on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from schemas.models import AVRO_ENUMS, HouseholdMember
from schemas.registry import PRIMITIVES, Schema, SchemaSet, fullname

Converter = Callable[[Any], Any]

ATTRIBUTE_VALUE = "jp.renkei.AttributeValue"
STRING_LIST = "jp.renkei.attributes.StringList"
HOUSEHOLD_MEMBER_LIST = "jp.renkei.attributes.HouseholdMemberList"

ATTRIBUTE_BRANCHES: dict[str, object] = {
    "null": type(None),
    "boolean": bool,
    "int": int,
    "long": int,
    "string": str,
    STRING_LIST: list[str],
    HOUSEHOLD_MEMBER_LIST: list[HouseholdMember],
    **{
        name: enum
        for name, enum in AVRO_ENUMS.items()
        if name.startswith("jp.renkei.attributes.") and name != "jp.renkei.attributes.Relationship"
    },
}
"""AttributeValue.value: Avro union branch -> the Python type it becomes (the drift test checks
that this, the schema's union and the model's `AttributeData` agree)."""

_INT32 = range(-(2**31), 2**31)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
PLAIN_LOGICAL_TYPES = frozenset({"uuid", "timestamp-micros"})
"""Logical types the model path handles itself (see `plain_schema`)."""


def plain_schema(schema: Schema) -> Schema:
    """`schema` without the logical types of PLAIN_LOGICAL_TYPES (same wire format)."""
    if isinstance(schema, list):
        return [plain_schema(branch) for branch in schema]
    if isinstance(schema, dict):
        if schema.get("logicalType") in PLAIN_LOGICAL_TYPES:
            return schema["type"]
        return {key: plain_schema(value) for key, value in schema.items()}
    return schema


def _timestamp_to_micros(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


def _micros_to_timestamp(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class MappingError(Exception):
    """The schema files use a construct this mapping cannot convert (a programming error)."""


@cache
def _catalogue_branches() -> Mapping[str, str]:
    """Attribute name -> the AttributeValue branch its catalogue type travels in."""
    from schemas.catalogue import default_catalogue  # deferred: the catalogue is data

    branches: dict[str, str] = {}
    for name, attribute in default_catalogue().by_name.items():
        branches[name] = catalogue_branch(attribute.avro_type)
    return branches


def catalogue_branch(avro_type: Schema) -> str:
    """The AttributeValue union branch that carries a catalogue Avro type."""
    if isinstance(avro_type, str):
        if avro_type in ("boolean", "int", "long", "string"):
            return avro_type
        return avro_type  # a named enum referenced by full name
    kind = avro_type.get("type")
    if kind == "enum":
        return fullname(avro_type["name"], avro_type.get("namespace"))
    if kind == "array":
        items = avro_type["items"]
        if items == "string":
            return STRING_LIST
        item_name = (
            fullname(items["name"], items.get("namespace")) if isinstance(items, dict) else items
        )
        if item_name == HouseholdMember.AVRO_NAME:
            return HOUSEHOLD_MEMBER_LIST
    raise MappingError("catalogue type has no AttributeValue branch")


class Mappers:
    """Converters for every named record of a schema set, built once."""

    def __init__(self, schemas: SchemaSet) -> None:
        self._definitions = schemas.definitions
        self.to_datum: dict[str, Callable[[Any], dict[str, Any]]] = {}
        self.from_datum: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        for name, schema in schemas.definitions.items():
            if schema.get("type") == "record":
                self._record(name)

    # -- building -------------------------------------------------------------------------

    def _record(self, name: str) -> None:
        if name in self.to_datum:
            return
        schema = self._definitions[name]
        namespace = name.rpartition(".")[0]
        encoders: list[tuple[str, Converter]] = []
        decoders: list[tuple[str, Converter]] = []
        for field in schema["fields"]:
            if name == ATTRIBUTE_VALUE and field["name"] == "value":
                decoders.append(("value", self._decode_attribute_value))
                continue
            encoder, decoder = self._converters(field["type"], namespace)
            if encoder is not None:
                encoders.append((field["name"], encoder))
            if decoder is not None:
                decoders.append((field["name"], decoder))

        if name == ATTRIBUTE_VALUE:
            self.to_datum[name] = self._encode_attribute_value
        else:
            self.to_datum[name] = _record_encoder(tuple(encoders))
        self.from_datum[name] = _record_decoder(tuple(decoders))

    def _converters(
        self, schema: Schema, namespace: str
    ) -> tuple[Converter | None, Converter | None]:
        """(encoder, decoder) for one Avro type; None means the value passes unchanged."""
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return None, None
            return self._named(fullname(schema, namespace))
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) != 1 or len(schema) != 2:
                raise MappingError("only [null, T] unions are mapped generically")
            encoder, decoder = self._converters(branches[0], namespace)
            return _optional(encoder), _optional(decoder)
        kind = schema["type"]
        if kind in ("record", "enum"):
            own = fullname(schema["name"], schema.get("namespace") or namespace)
            return self._named(own)
        if kind == "array":
            encoder, decoder = self._converters(schema["items"], namespace)
            return _each(encoder), _each(decoder)
        if isinstance(kind, str) and kind in PRIMITIVES:
            logical = schema.get("logicalType")
            if logical == "uuid":
                return str, None  # pydantic parses the string form
            if logical == "timestamp-micros":
                return _timestamp_to_micros, _micros_to_timestamp
            return None, None
        raise MappingError("unsupported Avro construct in the contract")

    def _named(self, name: str) -> tuple[Converter, Converter]:
        schema = self._definitions[name]
        if schema["type"] == "enum":
            enum = AVRO_ENUMS.get(name)
            if enum is None:
                raise MappingError(f"no Python enum for {name}")
            return _enum_name, _enum_member(enum)
        self._record(name)
        to_datum, from_datum = self.to_datum, self.from_datum
        return (lambda value: to_datum[name](value)), (lambda value: from_datum[name](value))

    # -- AttributeValue ---------------------------------------------------------------------

    def _encode_attribute_value(self, model: Any) -> dict[str, Any]:
        return {"name": model.name, "value": self.attribute_branch(model.name, model.value)}

    def attribute_branch(self, name: str, value: Any) -> Any:
        """The union value (tuple notation) that carries `value` for attribute `name`."""
        if value is None:
            return None
        hint = _catalogue_branches().get(name)
        if isinstance(value, bool):
            return ("boolean", value)
        if isinstance(value, Enum):
            return (_attribute_enum_name(value), value.name)
        if isinstance(value, int):
            if hint == "int" and value in _INT32:
                return ("int", value)
            return ("long", value)
        if isinstance(value, str):
            enum = AVRO_ENUMS.get(hint) if hint else None
            if enum is not None and value in enum.__members__:
                return (hint, value)
            return ("string", value)
        if isinstance(value, list):
            if (value and all(isinstance(v, HouseholdMember) for v in value)) or (
                not value and hint == HOUSEHOLD_MEMBER_LIST
            ):
                encode_member = self.to_datum[HouseholdMember.AVRO_NAME]
                return (HOUSEHOLD_MEMBER_LIST, {"items": [encode_member(v) for v in value]})
            return (STRING_LIST, {"items": list(value)})
        raise MappingError("attribute value of an unsupported Python type")

    def _decode_attribute_value(self, value: Any) -> Any:
        if not isinstance(value, tuple):
            return value  # null, boolean, int, long, string
        branch, datum = value
        if branch == STRING_LIST:
            return datum["items"]
        if branch == HOUSEHOLD_MEMBER_LIST:
            decode_member = self.from_datum[HouseholdMember.AVRO_NAME]
            return [decode_member(member) for member in datum["items"]]
        return AVRO_ENUMS[branch][datum]


def _attribute_enum_name(value: Enum) -> str:
    for name, enum in AVRO_ENUMS.items():
        if type(value) is enum:
            return name
    raise MappingError("enum is not an attribute type")


def _record_encoder(encoders: tuple[tuple[str, Converter], ...]) -> Callable[[Any], dict[str, Any]]:
    if not encoders:
        return lambda model: dict(model.__dict__)

    def encode(model: Any) -> dict[str, Any]:
        datum = dict(model.__dict__)
        for field, convert in encoders:
            datum[field] = convert(datum[field])
        return datum

    return encode


def _record_decoder(
    decoders: tuple[tuple[str, Converter], ...],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if not decoders:
        return lambda datum: datum

    def decode(datum: dict[str, Any]) -> dict[str, Any]:
        for field, convert in decoders:
            datum[field] = convert(datum[field])
        return datum

    return decode


def _optional(convert: Converter | None) -> Converter | None:
    if convert is None:
        return None
    return lambda value: None if value is None else convert(value)


def _each(convert: Converter | None) -> Converter | None:
    if convert is None:
        return None
    return lambda values: [convert(value) for value in values]


def _enum_name(member: Any) -> Any:
    return member.name


def _enum_member(enum: type[Enum]) -> Converter:
    return lambda symbol: enum[symbol]
