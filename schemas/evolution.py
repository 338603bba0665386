"""The evolution gate: current schemas and every released version must read each other's data.

For every message and every released version `schemas/history/<Name>/v<N>.avsc`:

- the current schema must read data written by vN (agencies still on vN keep working), and
- vN must read data written by the current schema (agencies not yet upgraded keep working).

Each direction is checked twice: structurally, by the Avro schema-resolution rules, which lets
the gate name the schema and field that break (a field added or removed without a default, a
type changed beyond the allowed promotions, an enum symbol or union branch the other side
lacks); and empirically, by writing generated sample records (every union branch and enum
symbol at least once) with one schema and decoding them with fastavro's resolution to the
other. `release` copies the current schemas into the history when their wire form (parsing
canonical form) changed; documentation-only edits are not a new version.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas.registry import (
    AVRO_DIR,
    HISTORY_DIR,
    PRIMITIVES,
    Schema,
    SchemaSet,
    canonical_form,
    dump_schema,
    fullname,
    history_versions,
    load_schema_set,
    named_types_map,
)

_COMPLEX = frozenset({"record", "error", "enum", "array", "map", "fixed"})
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


@dataclass(frozen=True, slots=True)
class Incompatibility:
    """One way a current schema and a released version fail to read each other's data."""

    schema: str
    version: int | None
    direction: str  # "current reads vN", "vN reads current" or "history"
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.schema} v{self.version}" if self.version is not None else self.schema
        return f"{where} ({self.direction}): field {self.field}: {self.problem}"


class EvolutionError(Exception):
    """A schema change would break compatibility; the message lists every problem."""

    def __init__(self, problems: list[Incompatibility]) -> None:
        self.problems = problems
        super().__init__("incompatible schema change:\n" + "\n".join(f"  {p}" for p in problems))


# ---- structural check -------------------------------------------------------------------


class _Side:
    """A schema with its named types, so references by name resolve."""

    def __init__(self, schema: Schema) -> None:
        self.named = named_types_map(schema)

    def resolve(self, schema: Schema) -> Schema:
        """Follow references by name and strip logical types down to the underlying type."""
        while True:
            if isinstance(schema, str):
                return schema if schema in PRIMITIVES else self.named[schema]
            if isinstance(schema, list):
                return schema
            kind = schema["type"]
            if isinstance(kind, str) and kind in _COMPLEX:
                return schema
            schema = kind


def _kind(schema: Schema) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema["type"])


def _name(schema: Schema) -> str:
    return fullname(schema["name"], schema.get("namespace"))


def _describe(schema: Schema) -> str:
    kind = _kind(schema)
    return _name(schema) if kind in ("record", "enum", "fixed", "error") else kind


def _problems(
    writer: Schema, reader: Schema, w: _Side, r: _Side, path: str
) -> Iterator[tuple[str, str]]:
    """(field path, problem) for every way `reader` cannot read data written by `writer`."""
    writer, reader = w.resolve(writer), r.resolve(reader)
    wk, rk = _kind(writer), _kind(reader)
    if wk == "union":
        for branch in writer:
            yield from _problems(branch, reader, w, r, path)
        return
    if rk == "union":
        if any(not list(_problems(writer, b, w, r, path)) for b in reader):
            return
        # Explain with the branch of the same kind and name, if there is one.
        same = [b for b in reader if _describe(r.resolve(b)) == _describe(writer)]
        if same:
            yield from _problems(writer, same[0], w, r, path)
        else:
            yield path, f"type {_describe(writer)} is not a branch of the reader's union"
        return
    if wk != rk:
        if rk not in _PROMOTIONS.get(wk, set()):
            yield path, f"type changed from {_describe(writer)} to {_describe(reader)}"
        return
    if rk in ("record", "error", "enum", "fixed"):
        aliases = {fullname(a, reader.get("namespace")) for a in reader.get("aliases", [])}
        if _name(writer) != _name(reader) and _name(writer) not in aliases:
            yield path, f"named type renamed from {_name(writer)} to {_name(reader)}"
            return
    if rk in ("record", "error"):
        written = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            source = next((written[n] for n in names if n in written), None)
            child = f"{path}.{field['name']}"
            if source is None:
                if "default" not in field:
                    yield child, "is missing from the written data and has no default"
            else:
                yield from _problems(source["type"], field["type"], w, r, child)
    elif rk == "enum":
        missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if missing and "default" not in reader:
            yield path, f"enum symbols {', '.join(missing)} are unknown to the reader"
    elif rk == "array":
        yield from _problems(writer["items"], reader["items"], w, r, f"{path}[]")
    elif rk == "map":
        yield from _problems(writer["values"], reader["values"], w, r, f"{path}{{}}")
    elif rk == "fixed" and writer["size"] != reader["size"]:
        yield path, "fixed size changed"


def structural_problems(writer: Schema, reader: Schema, root: str) -> list[tuple[str, str]]:
    return list(_problems(writer, reader, _Side(writer), _Side(reader), root))


# ---- sample records ---------------------------------------------------------------------


def sample_records(schema: Schema) -> list[Any]:
    """Records of `schema` that together use every union branch and every enum symbol."""
    side = _Side(schema)
    width = max(
        [3]
        + [len(s["symbols"]) for s in side.named.values() if s["type"] == "enum"]
        + [len(branches) for branches in _unions(schema)]
    )
    return [_sample(schema, side, i) for i in range(width)]


def _unions(schema: Schema) -> Iterator[list[Any]]:
    if isinstance(schema, list):
        yield schema
        for branch in schema:
            yield from _unions(branch)
    elif isinstance(schema, dict):
        for key in ("fields", "items", "values", "type"):
            value = schema.get(key)
            if key == "fields" and isinstance(value, list):
                for field in value:
                    yield from _unions(field["type"])
            elif isinstance(value, (dict, list)):
                yield from _unions(value)


def _sample(schema: Schema, side: _Side, i: int) -> Any:
    if isinstance(schema, dict) and schema.get("logicalType") == "uuid":
        return str(uuid.UUID(int=i + 1))
    schema = side.resolve(schema)
    kind = _kind(schema)
    if kind == "union":
        return _sample(schema[i % len(schema)], side, i)
    simple: dict[str, Any] = {
        "null": None,
        "boolean": i % 2 == 0,
        "int": i,
        "long": 2**40 + i,
        "float": i / 2,
        "double": i / 4,
        "bytes": bytes([i % 256]) * (i % 4 + 1),
        "string": f"sample-{i}",
    }
    if kind in simple:
        return simple[kind]
    if kind in ("record", "error"):
        return {f["name"]: _sample(f["type"], side, i) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][i % len(schema["symbols"])]
    if kind == "array":
        return [_sample(schema["items"], side, i + k) for k in range(i % 3 + 1)]
    if kind == "map":
        return {f"k{k}": _sample(schema["values"], side, i + k) for k in range(i % 3)}
    if kind == "fixed":
        return bytes(schema["size"])
    raise ValueError(f"cannot sample Avro type {kind}")


def sample_problems(writer: Schema, reader: Schema) -> list[str]:
    """Why samples written with `writer` fail to decode with `reader` (empty when they all do)."""
    parsed_writer = parse_schema(writer, named_schemas={})
    parsed_reader = parse_schema(reader, named_schemas={})
    problems = []
    for record in sample_records(writer):
        stream = io.BytesIO()
        schemaless_writer(stream, parsed_writer, record, strict=True)
        stream.seek(0)
        try:
            schemaless_reader(stream, parsed_writer, parsed_reader)
        except Exception as exc:  # synthetic samples: the message holds no personal data
            problems.append(f"{type(exc).__name__}: {exc}")
    return problems


# ---- the gate ---------------------------------------------------------------------------


def _compare(name: str, version: int, old: Schema, current: Schema) -> list[Incompatibility]:
    found = []
    for direction, writer, reader in (
        (f"current reads v{version}", old, current),
        (f"v{version} reads current", current, old),
    ):
        structural = structural_problems(writer, reader, name)
        found += [Incompatibility(name, version, direction, f, p) for f, p in structural]
        if not structural:
            found += [
                Incompatibility(name, version, direction, "(sample)", p)
                for p in sample_problems(writer, reader)
            ]
    return found


def check(avro_dir: Path = AVRO_DIR, history_dir: Path = HISTORY_DIR) -> list[Incompatibility]:
    """Every incompatibility between the current schemas and the released versions."""
    schemas = load_schema_set(avro_dir)
    current = set(schemas.messages)
    problems: list[Incompatibility] = []
    released = []
    if history_dir.is_dir():
        released = sorted(p.name for p in history_dir.iterdir() if p.is_dir())
    for name in released:
        if name not in current:
            problems.append(
                Incompatibility(name, None, "history", "(message)", "released but removed")
            )
    for name in schemas.messages:
        expanded = schemas.expanded(name)
        for version, path in history_versions(name, history_dir):
            old = _load(path)
            problems += _compare(name, version, old, expanded)
    return problems


def unreleased(avro_dir: Path = AVRO_DIR, history_dir: Path = HISTORY_DIR) -> list[str]:
    """Messages whose current wire form is not yet a released version."""
    schemas = load_schema_set(avro_dir)
    return [name for name in schemas.messages if _needs_release(schemas, name, history_dir)]


def _needs_release(schemas: SchemaSet, name: str, history_dir: Path) -> bool:
    versions = history_versions(name, history_dir)
    if not versions:
        return True
    latest = _load(versions[-1][1])
    return canonical_form(latest) != canonical_form(schemas.expanded(name))


def release(avro_dir: Path = AVRO_DIR, history_dir: Path = HISTORY_DIR) -> list[tuple[str, int]]:
    """Copy every changed current schema as the next version; refuse if the gate fails."""
    problems = check(avro_dir, history_dir)
    if problems:
        raise EvolutionError(problems)
    schemas = load_schema_set(avro_dir)
    written = []
    for name in schemas.messages:
        if not _needs_release(schemas, name, history_dir):
            continue
        versions = history_versions(name, history_dir)
        version = versions[-1][0] + 1 if versions else 1
        folder = history_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"v{version}.avsc").write_text(dump_schema(schemas.expanded(name)), "utf-8")
        written.append((name, version))
    return written


def _load(path: Path) -> Schema:
    return json.loads(path.read_text("utf-8"))
