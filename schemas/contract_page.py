"""The readable catalogue page `docs/contract.md`, generated from the schemas and the catalogue.

`generated_docs()` returns every generated documentation file (this page and the AsyncAPI
document) by file name; `renkei schemas docs` writes them and a test keeps the committed copies
equal to them.
"""

from __future__ import annotations

import json
from typing import Any

from schemas import asyncapi
from schemas.catalogue import Catalogue, default_catalogue
from schemas.registry import (
    AVRO_DIR,
    PRIMITIVES,
    Schema,
    SchemaSet,
    fingerprint,
    fullname,
    load_schema_set,
)

ASYNCAPI_FILE = "asyncapi.json"
CONTRACT_FILE = "contract.md"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _type(schema: Schema, namespace: str) -> str:
    """A compact, linked rendering of an Avro type for a table cell."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return f"`{schema}`"
        short = _short(fullname(schema, namespace))
        return f"[{short}](#{short.lower()})"
    if isinstance(schema, list):
        return " \\| ".join(_type(branch, namespace) for branch in schema)
    kind = schema["type"]
    if "logicalType" in schema:
        return f"`{schema['logicalType']}`"
    if kind == "array":
        return f"array<{_type(schema['items'], namespace)}>"
    if kind == "map":
        return f"map<{_type(schema['values'], namespace)}>"
    if kind in ("record", "enum", "fixed"):
        short = _short(fullname(schema["name"], schema.get("namespace") or namespace))
        return f"[{short}](#{short.lower()})"
    return _type(kind, namespace)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields_table(schema: dict[str, Any], namespace: str) -> list[str]:
    lines = ["| field | type | description |", "|---|---|---|"]
    for field in schema["fields"]:
        default = f" Default: `{json.dumps(field['default'])}`." if "default" in field else ""
        lines.append(
            f"| `{field['name']}` | {_type(field['type'], namespace)} "
            f"| {_cell(field.get('doc', ''))}{default} |"
        )
    return lines


def _inline_named(schema: Schema, found: dict[str, dict[str, Any]], namespace: str) -> None:
    """Named types defined inline inside a message (its own enums), to list with it."""
    if isinstance(schema, list):
        for branch in schema:
            _inline_named(branch, found, namespace)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("enum", "record"):
            found[fullname(schema["name"], schema.get("namespace") or namespace)] = schema
        if kind == "record":
            for field in schema["fields"]:
                _inline_named(field["type"], found, namespace)
        elif kind == "array":
            _inline_named(schema["items"], found, namespace)


def render(schemas: SchemaSet, catalogue: Catalogue) -> str:
    out = [
        "# Renkei message contract",
        "",
        "<!-- Generated from schemas/avro and schemas/attributes.json by "
        "`renkei schemas docs`; do not edit by hand. -->",
        "",
        "Every message is an Avro record (namespace `jp.renkei`) in Avro **single-object "
        "encoding**: the two bytes `C3 01`, the 8-byte little-endian CRC-64-AVRO fingerprint "
        "of the writer schema's parsing canonical form, then the Avro binary body. A reader "
        "looks the fingerprint up among the current and every released schema version "
        "(`schemas/history/`) and resolves older data to the current schema. The machine-"
        "readable form of this page is [asyncapi.json](asyncapi.json) (AsyncAPI 3.0).",
        "",
        "Events are thin: they say that something happened, never attribute values; values "
        "move only through authorised requests. Person codes (符号) are opaque bytes; the "
        "individual number (個人番号) appears only in `Enrolment` and `NumberChanged`. Bulk "
        "collection (情報収集: tax returns, insurance claims) and the four basic resident "
        "facts (住基4情報) do not pass through the hub: it is for person-by-person linkage.",
        "",
        "## Topics",
        "",
        "| topic | carries | messages |",
        "|---|---|---|",
    ]
    for channel in asyncapi.CHANNELS:
        links = ", ".join(f"[{m}](#{m.lower()})" for m in channel.messages)
        out.append(f"| `{channel.address}` | {_cell(channel.description)} | {links} |")

    out += ["", "## Messages", ""]
    shared: dict[str, dict[str, Any]] = {}
    for name in schemas.messages:
        schema = schemas.definitions[schemas.full(name)]
        namespace = schemas.full(name).rpartition(".")[0]
        topics = [c.address for c in asyncapi.CHANNELS if name in c.messages]
        out += [
            f"### {name}",
            "",
            schema.get("doc", ""),
            "",
            f"Topics: {', '.join(f'`{t}`' for t in topics)}. "
            f"Fingerprint: `{fingerprint(schemas.expanded(name)).hex()}`.",
            "",
            *_fields_table(schema, namespace),
            "",
        ]
        inline: dict[str, dict[str, Any]] = {}
        for field in schema["fields"]:
            _inline_named(field["type"], inline, namespace)
        for inner in inline.values():
            if inner["type"] == "enum":
                out += [
                    f"#### {inner['name']}",
                    "",
                    inner.get("doc", ""),
                    "",
                    "Symbols: " + ", ".join(f"`{s}`" for s in inner["symbols"]) + ".",
                    "",
                ]
    for full, schema in schemas.definitions.items():
        # Types with a file of their own; a message's private enums are listed with it.
        if _short(full) not in schemas.messages and (AVRO_DIR / f"{_short(full)}.avsc").exists():
            shared[full] = schema

    out += ["## Shared types", ""]
    for full in sorted(shared, key=_short):
        schema = shared[full]
        namespace = full.rpartition(".")[0]
        out += [f"### {_short(full)}", "", f"`{full}`. {schema.get('doc', '')}", ""]
        if schema["type"] == "record":
            out += [*_fields_table(schema, namespace), ""]
        elif schema["type"] == "enum":
            out += ["Symbols: " + ", ".join(f"`{s}`" for s in schema["symbols"]) + ".", ""]

    out += [
        "## Attribute catalogue",
        "",
        f"Version {catalogue.version}. Every attribute a legal-basis row can move. Values "
        "travel typed in `AttributeValue.value`, in the union branch of the attribute's Avro "
        "type (arrays inside the `StringList` / `HouseholdMemberList` wrappers). Sensitive "
        "attributes need the person's live consent.",
        "",
        "| attribute | 日本語 | sector | Avro type | unit | sensitive | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for attribute in catalogue.by_name.values():
        out.append(
            f"| `{attribute.name}` | {attribute.ja} | {attribute.sector.value} "
            f"| {_type(attribute.avro_type, 'jp.renkei.attributes')} | {_cell(attribute.unit)} "
            f"| {'yes' if attribute.sensitive else 'no'} | {_cell(attribute.doc)} |"
        )
    return "\n".join(out) + "\n"


def generated_docs() -> dict[str, str]:
    """Every generated documentation file, by file name."""
    schemas = load_schema_set(AVRO_DIR)
    return {
        ASYNCAPI_FILE: asyncapi.render(asyncapi.build(schemas)),
        CONTRACT_FILE: render(schemas, default_catalogue()),
    }
