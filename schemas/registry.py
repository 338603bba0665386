"""The schema files: loading `schemas/avro/*.avsc`, expanding them, and their fingerprints.

Shared named types (Metadata, Sector, AttributeValue, ...) are defined once, each in its own
file, and referenced by full name from the message files. A message's wire identity is the
CRC-64-AVRO fingerprint of the parsing canonical form of its *expanded* schema (every referenced
named type inlined at first use), which is also what `schemas/history/<Name>/v<N>.avsc` keeps:
a released version must stay readable even after a shared type changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import to_parsing_canonical_form

PACKAGE_DIR = Path(__file__).resolve().parent
AVRO_DIR = PACKAGE_DIR / "avro"
HISTORY_DIR = PACKAGE_DIR / "history"
NAMESPACE = "jp.renkei"

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "enum", "fixed", "error"})
_VERSION_FILE = re.compile(r"v([0-9]+)\.avsc")

Schema = Any  # a JSON Avro schema: str, list or dict


class SchemaLoadError(Exception):
    """A schema file is unreadable, defines a name twice or references an unknown name."""


# CRC-64-AVRO, exactly as the Avro specification defines it (Rabin fingerprint, "EMPTY" seed).
_EMPTY = 0xC15D213AA4D7A795


def _fp_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_FP_TABLE = _fp_table()


def crc64_avro(data: bytes) -> int:
    """The 64-bit CRC-64-AVRO fingerprint of `data`, as an unsigned integer."""
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


def canonical_form(schema: Schema) -> str:
    """Parsing canonical form of a self-contained (expanded) schema."""
    return str(to_parsing_canonical_form(schema))


def fingerprint(schema: Schema) -> bytes:
    """The 8 bytes a single-object encoding carries: CRC-64-AVRO of the canonical form, LE."""
    return crc64_avro(canonical_form(schema).encode("utf-8")).to_bytes(8, "little")


def fullname(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _type_name(schema: Schema) -> str | None:
    if isinstance(schema, dict) and schema.get("type") in NAMED_KINDS:
        return fullname(str(schema["name"]), schema.get("namespace"))
    return None


@dataclass(frozen=True)
class SchemaSet:
    """The named types of one directory of .avsc files, by full name."""

    definitions: Mapping[str, Schema]

    @property
    def messages(self) -> tuple[str, ...]:
        """Short names of the message records: the top-level records whose first field is
        `metadata` (the envelope every message carries first)."""
        found = []
        for name, schema in self.definitions.items():
            fields = schema.get("fields", []) if schema.get("type") == "record" else []
            if fields and fields[0]["name"] == "metadata":
                found.append(name.rsplit(".", 1)[-1])
        return tuple(sorted(found))

    def full(self, short_or_full: str) -> str:
        if short_or_full in self.definitions:
            return short_or_full
        return fullname(short_or_full, NAMESPACE)

    def expanded(self, name: str) -> Schema:
        """A self-contained copy of a named type, every reference inlined at first use."""
        return _expand(self.definitions[self.full(name)], self.definitions, set(), None)


def _expand(
    schema: Schema, definitions: Mapping[str, Schema], seen: set[str], namespace: str | None
) -> Schema:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        name = fullname(schema, namespace)
        if name in seen:
            return name
        if name not in definitions:
            raise SchemaLoadError(f"unknown type {name!r}")
        return _expand(definitions[name], definitions, seen, namespace)
    if isinstance(schema, list):
        return [_expand(branch, definitions, seen, namespace) for branch in schema]
    result = dict(schema)
    kind = result.get("type")
    own = _type_name(result)
    if own is not None:
        if own in seen:
            return own
        seen.add(own)
        result["name"] = own.rsplit(".", 1)[-1]
        result["namespace"] = own.rpartition(".")[0]
        namespace = result["namespace"]
    if kind == "record" or kind == "error":
        result["fields"] = [
            {**field, "type": _expand(field["type"], definitions, seen, namespace)}
            for field in result["fields"]
        ]
    elif kind == "array":
        result["items"] = _expand(result["items"], definitions, seen, namespace)
    elif kind == "map":
        result["values"] = _expand(result["values"], definitions, seen, namespace)
    elif kind not in PRIMITIVES and kind not in ("enum", "fixed"):
        # {"type": <a name or a nested schema>}: the wrapper adds nothing to the type.
        return _expand(kind, definitions, seen, namespace)
    return result


def _collect(schema: Schema, namespace: str | None, into: dict[str, Schema], origin: str) -> None:
    """Record every named type defined inside `schema` (top level and nested)."""
    if isinstance(schema, list):
        for branch in schema:
            _collect(branch, namespace, into, origin)
        return
    if not isinstance(schema, dict):
        return
    own = _type_name(schema)
    if own is not None:
        if own in into:
            raise SchemaLoadError(f"{origin}: type {own!r} is defined twice")
        into[own] = schema
        namespace = own.rpartition(".")[0]
    kind = schema.get("type")
    if kind in ("record", "error"):
        for field in schema["fields"]:
            _collect(field["type"], namespace, into, origin)
    elif kind == "array":
        _collect(schema["items"], namespace, into, origin)
    elif kind == "map":
        _collect(schema["values"], namespace, into, origin)
    elif isinstance(kind, (list, dict)):
        _collect(kind, namespace, into, origin)


def named_types_map(schema: Schema) -> dict[str, Schema]:
    """The named types defined inside an (expanded) schema, by full name."""
    found: dict[str, Schema] = {}
    _collect(schema, None, found, "schema")
    return found


def named_types(schema: Schema) -> set[str]:
    """Full names of the named types defined inside an (expanded) schema."""
    return set(named_types_map(schema))


def load_schema_set(directory: Path = AVRO_DIR) -> SchemaSet:
    """Read every .avsc of `directory`; each file defines one top-level named type."""
    definitions: dict[str, Schema] = {}
    for path in sorted(directory.glob("*.avsc")):
        try:
            schema = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SchemaLoadError(f"{path.name}: not a readable JSON schema") from exc
        name = _type_name(schema)
        if name is None or name.rsplit(".", 1)[-1] != path.stem:
            raise SchemaLoadError(f"{path.name}: must define the named type {path.stem!r}")
        _collect(schema, None, definitions, path.name)
    result = SchemaSet(definitions)
    for name in definitions:  # every reference resolves
        result.expanded(name)
    return result


def history_versions(name: str, history_dir: Path = HISTORY_DIR) -> list[tuple[int, Path]]:
    """Released versions of message `name`, oldest first."""
    folder = history_dir / name
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("v*.avsc"):
        match = _VERSION_FILE.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def iter_history(history_dir: Path = HISTORY_DIR) -> Iterator[tuple[str, int, Schema]]:
    """Every released (name, version, expanded schema)."""
    if not history_dir.is_dir():
        return
    for folder in sorted(p for p in history_dir.iterdir() if p.is_dir()):
        for version, path in history_versions(folder.name, history_dir):
            yield folder.name, version, json.loads(path.read_text("utf-8"))


def dump_schema(schema: Schema) -> str:
    """The one JSON layout the repository uses for schema files."""
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
