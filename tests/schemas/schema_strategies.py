"""Hypothesis strategies for every message, derived from the .avsc files.

Each message's strategy walks its schema, so a new field gets data without touching this file;
`OVERRIDES` narrows the few fields whose models add rules Avro cannot say, and `FIXUPS` makes
cross-field rules hold.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from schemas.individual_number import check_digit
from schemas.models import (
    AVRO_ENUMS,
    MESSAGE_MODELS,
    PRINCIPAL_PATTERN,
    HouseholdMember,
    Message,
    Outcome,
    RolloutOperation,
)
from schemas.registry import PRIMITIVES, Schema, SchemaSet, fullname, load_schema_set
from schemas.vocabulary import AGENCY_ID_PATTERN, DenialReason, EventType, agency_kind

SCHEMAS: SchemaSet = load_schema_set()

individual_numbers = st.integers(0, 10**11 - 1).map(
    lambda n: f"{n:011d}" + str(check_digit(f"{n:011d}"))
)
agency_ids = st.from_regex(AGENCY_ID_PATTERN, fullmatch=True)
municipalities = st.integers(0, 99999).map(lambda n: f"mun-{n:05d}")
principals = agency_ids | st.from_regex(PRINCIPAL_PATTERN, fullmatch=True)
timestamps = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]),
)
texts = st.text(min_size=1, max_size=12)
names = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
household_members = st.builds(
    HouseholdMember,
    relationship=st.sampled_from(list(AVRO_ENUMS["jp.renkei.attributes.Relationship"])),
    birth_year=int32,
)
attribute_data = st.one_of(
    st.none(),
    st.booleans(),
    int64,
    st.text(max_size=12),
    st.lists(st.text(max_size=8), max_size=3),
    st.lists(household_members, max_size=3),
    *(
        st.sampled_from(list(enum))
        for name, enum in AVRO_ENUMS.items()
        if name.startswith("jp.renkei.attributes.") and not name.endswith("Relationship")
    ),
)
catalogue_names = (
    st.sampled_from(
        [
            "taxable_income",
            "dependants_count",
            "household_members",
            "long_term_care_level",
            "medication_list",
            "employment_insurance_insured",
            "clinical_summary",
        ]
    )
    | names
)
attribute_values = st.fixed_dictionaries({"name": catalogue_names, "value": attribute_data})

OVERRIDES: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("Relocation", "from_municipality"): municipalities,
    ("Relocation", "to_municipality"): municipalities,
    ("AttributeRequest", "attributes"): st.lists(names, min_size=1, max_size=4),
    ("AttributeQuery", "attributes"): st.lists(names, min_size=1, max_size=4),
    ("ProxyRegistered", "scope"): st.lists(names, min_size=1, max_size=3),
    ("SealedNumber", "key_id"): st.integers(1, 255),
    ("ProvisionRecord", "signing_key_id"): st.integers(0, 255),
    ("Enrolment", "individual_number"): st.one_of(st.just(""), individual_numbers),
    ("AgencyRegistered", "subscriptions"): st.lists(st.sampled_from(list(EventType)), max_size=4),
    ("LegalBasisTablePublished", "sha256"): st.binary(min_size=32, max_size=32).map(bytes.hex),
    ("TrustTablePublished", "sha256"): st.binary(min_size=32, max_size=32).map(bytes.hex),
    ("ProvisionRecord", "chain_partition"): st.integers(0, 2**31 - 1),
    ("ProvisionRecord", "chain_sequence"): st.integers(0, 2**63 - 1),
    ("DeadLetter", "source_partition"): st.integers(0, 2**31 - 1),
    ("DeadLetter", "source_offset"): st.integers(0, 2**63 - 1),
    ("ControlAcknowledged", "control_offset"): st.integers(0, 2**63 - 1),
}


def _fix_provision(d: dict[str, Any]) -> dict[str, Any]:
    if d["provider_timeout"]:
        d["outcome"], d["reason"] = Outcome.DENIED, None
    elif d["outcome"] is Outcome.PROVIDED:
        d["reason"] = None
    elif d["reason"] is None:
        d["reason"] = DenialReason.NO_LEGAL_BASIS
    return d


def _fix_rollout(d: dict[str, Any]) -> dict[str, Any]:
    op = d["operation"]
    if op in (RolloutOperation.PAUSE_SECTOR, RolloutOperation.RESUME_SECTOR):
        d["sector"] = d["sector"] or AVRO_ENUMS["jp.renkei.Sector"]["TAX"]
    else:
        d["sector"] = None
    d["plan_json"] = (d["plan_json"] or "{}") if op is RolloutOperation.LOAD_PLAN else None
    return d


def _fix_dependency(d: dict[str, Any]) -> dict[str, Any]:
    if d["until"] is not None and d["until"] < d["effective_on"]:
        d["until"] = d["effective_on"]
    return d


def _fix_registered(d: dict[str, Any]) -> dict[str, Any]:
    d["kind"] = agency_kind(d["agency"])
    return d


FIXUPS = {
    "ProvisionRecord": _fix_provision,
    "RolloutChange": _fix_rollout,
    "DependencyChanged": _fix_dependency,
    "AgencyRegistered": _fix_registered,
}


def _strategy(schema: Schema, namespace: str, message: str, field: str) -> st.SearchStrategy[Any]:
    override = OVERRIDES.get((message, field))
    if override is not None:
        return override
    if isinstance(schema, list):
        return st.one_of(*(_strategy(b, namespace, message, field) for b in schema))
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return {
                "null": st.none(),
                "boolean": st.booleans(),
                "int": int32,
                "long": int64,
                "string": texts,
                "bytes": st.binary(min_size=1, max_size=24),
            }[schema]
        return _named(fullname(schema, namespace))
    logical = schema.get("logicalType")
    if logical is not None:
        return {
            "uuid": st.uuids(),
            "timestamp-micros": timestamps,
            "date": st.dates(),
            "agency-id": agency_ids,
            "principal-id": principals,
            "individual-number": individual_numbers,
        }[logical]
    kind = schema["type"]
    if kind == "array":
        return st.lists(_strategy(schema["items"], namespace, message, field), max_size=3)
    if kind in ("record", "enum"):
        return _named(fullname(schema["name"], schema.get("namespace") or namespace))
    return _strategy(kind, namespace, message, field)


def _named(name: str) -> st.SearchStrategy[Any]:
    if name == "jp.renkei.AttributeValue":
        return attribute_values
    schema = SCHEMAS.definitions[name]
    if schema["type"] == "enum":
        return st.sampled_from(list(AVRO_ENUMS[name]))
    return _record(name)


def _record(name: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = SCHEMAS.definitions[name]
    namespace = name.rpartition(".")[0]
    short = name.rsplit(".", 1)[-1]
    return st.fixed_dictionaries(
        {f["name"]: _strategy(f["type"], namespace, short, f["name"]) for f in schema["fields"]}
    )


def messages(message_type: str) -> st.SearchStrategy[Message]:
    """Valid models of `message_type`."""
    model = MESSAGE_MODELS[message_type]
    fix = FIXUPS.get(message_type, lambda d: d)
    return _record(f"jp.renkei.{message_type}").map(lambda d: model.model_validate(fix(d)))


any_message = st.sampled_from(sorted(MESSAGE_MODELS)).flatmap(messages)
