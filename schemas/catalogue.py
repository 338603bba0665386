"""The attribute catalogue: what a legal-basis row may move, typed, with unit and sensitivity.

Loaded once from `attributes.json`. The hub uses it to check that an answer carries only
authorised attributes with the catalogue's types; the legal-basis table is validated against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

from fastavro import parse_schema
from fastavro.validation import validate

from schemas.vocabulary import Sector


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    ja: str
    sector: Sector
    avro_type: Any
    unit: str
    sensitive: bool
    doc: str


class Catalogue:
    """The attributes by name, with a value check per attribute."""

    def __init__(self, version: str, attributes: list[Attribute]) -> None:
        self.version = version
        self.by_name: dict[str, Attribute] = {a.name: a for a in attributes}
        if len(self.by_name) != len(attributes):
            raise ValueError("attribute catalogue names an attribute twice")
        named: dict[str, Any] = {}
        self._parsed = {a.name: parse_schema(a.avro_type, named_schemas=named) for a in attributes}

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str) -> Attribute:
        return self.by_name[name]

    def conforms(self, name: str, value: object) -> bool:
        """True when `value` is of the catalogue's Avro type for `name` (False if unknown).

        Accepts plain Avro data and the models' values alike: an enum member must belong to the
        catalogue's enum (not merely share a symbol), a model (HouseholdMember) counts as its
        fields.
        """
        parsed = self._parsed.get(name)
        if parsed is None:
            return False
        expected = self.by_name[name].avro_type
        if isinstance(value, Enum) and not (
            isinstance(expected, dict)
            and expected.get("type") == "enum"
            and type(value).__name__ == expected.get("name")
        ):
            return False
        return bool(validate(_plain(value), parsed, raise_errors=False))

    def any_sensitive(self, names: Iterable[str]) -> bool:
        """True when any of the named attributes needs the person's consent."""
        return any(self.by_name[n].sensitive for n in names if n in self.by_name)


def _plain(value: object) -> object:
    """Models (anything with pydantic's `model_dump`) as dicts, lists element-wise."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    return value


def parse_catalogue(document: dict[str, Any]) -> Catalogue:
    attributes = [
        Attribute(
            name=a["name"],
            ja=a["ja"],
            sector=Sector(a["sector"]),
            avro_type=a["type"],
            unit=a["unit"],
            sensitive=bool(a["sensitive"]),
            doc=a["doc"],
        )
        for a in document["attributes"]
    ]
    return Catalogue(document["version"], attributes)


@cache
def default_catalogue() -> Catalogue:
    text = resources.files("schemas").joinpath("attributes.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))
