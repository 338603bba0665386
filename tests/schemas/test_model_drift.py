"""The models and the .avsc files are one contract: this fails the moment they disagree."""

import types
import typing
from datetime import date
from enum import Enum
from uuid import UUID

import pytest
from fastavro.schema import to_parsing_canonical_form
from pydantic import AwareDatetime, BaseModel

from schemas import mapping, models, vocabulary
from schemas.catalogue import default_catalogue
from schemas.registry import PRIMITIVES, SchemaSet, fullname, load_schema_set

SCHEMAS: SchemaSet = load_schema_set()
ENUM_NAMES = {enum: name for name, enum in models.AVRO_ENUMS.items()}


def avro_signature(schema, namespace: str) -> str:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        name = fullname(schema, namespace)
        kind = SCHEMAS.definitions[name]["type"]
        return f"{kind}:{name}"
    if isinstance(schema, list):
        return "union<" + ",".join(avro_signature(b, namespace) for b in schema) + ">"
    if "logicalType" in schema:
        return schema["logicalType"]
    kind = schema["type"]
    if kind == "array":
        return f"array<{avro_signature(schema['items'], namespace)}>"
    if kind in ("record", "enum"):
        return f"{kind}:{fullname(schema['name'], schema.get('namespace') or namespace)}"
    return avro_signature(kind, namespace)


def python_signature(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        marks = [e for e in extras if isinstance(e, models.AvroType)]
        return marks[0].name if marks else python_signature(base)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, "only optional unions are generic"
        return f"union<null,{python_signature(rest[0])}>"
    if origin is list:
        return f"array<{python_signature(typing.get_args(annotation)[0])}>"
    if annotation is UUID:
        return "uuid"
    if annotation is date:
        return "date"
    if annotation is AwareDatetime:
        return "timestamp-micros"
    simple = {str: "string", bytes: "bytes", bool: "boolean"}
    if annotation in simple:
        return simple[annotation]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return f"enum:{ENUM_NAMES[annotation]}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"record:{annotation.AVRO_NAME}"
    raise AssertionError(f"no Avro mapping for {annotation!r}")


RECORDS = sorted(models.RECORD_MODELS.items())


def test_every_message_schema_has_a_model_and_back():
    assert set(SCHEMAS.messages) == set(models.MESSAGE_MODELS)


@pytest.mark.parametrize(("avro_name", "model"), RECORDS, ids=[n for n, _ in RECORDS])
def test_model_fields_match_the_schema(avro_name, model):
    schema = SCHEMAS.definitions[avro_name]
    namespace = avro_name.rpartition(".")[0]
    avro_fields = [f["name"] for f in schema["fields"]]
    assert list(model.model_fields) == avro_fields
    hints = typing.get_type_hints(model, include_extras=True)
    for field in schema["fields"]:
        name = field["name"]
        if avro_name == mapping.ATTRIBUTE_VALUE and name == "value":
            continue  # the catalogue union, checked below
        assert python_signature(hints[name]) == avro_signature(field["type"], namespace), name
        info = model.model_fields[name]
        if "default" in field:
            default = info.default_factory() if info.default_factory else info.default
            if isinstance(default, bytes):  # Avro writes a bytes default as a latin-1 string
                default = default.decode("latin-1")
            assert default == field["default"], name
        else:
            assert info.is_required(), name


def test_enums_have_the_schema_symbols():
    for name, enum in models.AVRO_ENUMS.items():
        assert [m.name for m in enum] == SCHEMAS.definitions[name]["symbols"], name


@pytest.mark.parametrize(
    ("enum", "avro_name"),
    [
        (vocabulary.Sector, "jp.renkei.Sector"),
        (vocabulary.DenialReason, "jp.renkei.DenialReason"),
        (vocabulary.AgencyKind, "jp.renkei.AgencyKind"),
    ],
)
def test_vocabulary_enums_equal_the_avro_enums(enum, avro_name):
    assert [m.name for m in enum] == SCHEMAS.definitions[avro_name]["symbols"]
    assert models.AVRO_ENUMS[avro_name] is enum


def test_event_models_are_the_vocabulary_event_types():
    assert [m.MESSAGE_TYPE for m in models.EVENT_MODELS] == [e.value for e in vocabulary.EventType]


def test_attribute_value_union_is_the_branch_table_and_the_model_union():
    schema = SCHEMAS.definitions[mapping.ATTRIBUTE_VALUE]
    union = next(f["type"] for f in schema["fields"] if f["name"] == "value")
    assert [fullname(b, "jp.renkei") if "." in b or b not in PRIMITIVES else b for b in union] == (
        list(mapping.ATTRIBUTE_BRANCHES)
    )
    hints = typing.get_type_hints(models.AttributeValue, include_extras=True)
    python_types = {
        typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
        for a in typing.get_args(hints["value"])
    }
    assert python_types == set(mapping.ATTRIBUTE_BRANCHES.values())


def test_every_catalogue_type_has_an_attribute_value_branch_with_the_same_definition():
    branches = set(mapping.ATTRIBUTE_BRANCHES)
    for attribute in default_catalogue().by_name.values():
        branch = mapping.catalogue_branch(attribute.avro_type)
        assert branch in branches, attribute.name
        avro_type = attribute.avro_type
        items = avro_type.get("items") if isinstance(avro_type, dict) else None
        for inline in (avro_type, items):
            if isinstance(inline, dict) and inline.get("type") in ("enum", "record"):
                name = fullname(inline["name"], inline.get("namespace"))
                # the catalogue's inline definition is the shared type, symbol for symbol
                assert to_parsing_canonical_form(inline) == to_parsing_canonical_form(
                    SCHEMAS.expanded(name)
                ), name


def test_every_field_and_every_type_is_documented():
    undocumented = []
    for name, schema in SCHEMAS.definitions.items():
        if "doc" not in schema:
            undocumented.append(name)
        for field in schema.get("fields", []):
            if not field.get("doc"):
                undocumented.append(f"{name}.{field['name']}")
    assert undocumented == []
