import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemas import evolution
from schemas.cli import schemas_app
from schemas.registry import AVRO_DIR, HISTORY_DIR


@pytest.fixture
def contract(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch copy of the current schemas and their released history."""
    avro, history = tmp_path / "avro", tmp_path / "history"
    shutil.copytree(AVRO_DIR, avro)
    shutil.copytree(HISTORY_DIR, history)
    return avro, history


def _edit(avro: Path, name: str, change) -> None:
    path = avro / f"{name}.avsc"
    schema = json.loads(path.read_text("utf-8"))
    change(schema)
    path.write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")


def _field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_the_committed_schemas_pass_the_gate_and_are_all_released():
    assert evolution.check() == []
    assert evolution.unreleased() == []


def test_gate_refuses_a_new_field_without_default_naming_schema_and_field(contract):
    avro, history = contract
    _edit(
        avro,
        "AttributeRequest",
        lambda s: s["fields"].append({"name": "urgency", "type": "int", "doc": "How urgent."}),
    )
    problems = evolution.check(avro, history)
    assert [(p.schema, p.field, p.direction) for p in problems] == [
        ("AttributeRequest", "AttributeRequest.urgency", "current reads v1")
    ]
    assert "no default" in problems[0].problem

    result = CliRunner().invoke(
        schemas_app, ["check", "--avro-dir", str(avro), "--history-dir", str(history)]
    )
    assert result.exit_code == 1
    assert "AttributeRequest" in result.output
    assert "AttributeRequest.urgency" in result.output


def test_gate_refuses_removing_a_field_the_released_version_needs(contract):
    avro, history = contract
    _edit(
        avro,
        "RequestDenied",
        lambda s: s.update(fields=[f for f in s["fields"] if f["name"] != "message"]),
    )
    problems = evolution.check(avro, history)
    assert {(p.field, p.direction) for p in problems} == {
        ("RequestDenied.message", "v1 reads current")
    }


def test_a_change_in_a_shared_type_is_caught_in_every_message_using_it(contract):
    avro, history = contract
    _edit(avro, "DenialReason", lambda s: s["symbols"].remove("RATE_LIMITED"))
    problems = evolution.check(avro, history)
    assert {p.schema for p in problems} == {"RequestDenied", "ProvisionRecord"}
    assert all("RATE_LIMITED" in p.problem for p in problems)


def test_gate_refuses_an_incompatible_type_change(contract):
    avro, history = contract
    _edit(avro, "IncomeDetermined", lambda s: _field(s, "fiscal_year").update(type="string"))
    problems = evolution.check(avro, history)
    assert {p.field for p in problems} == {"IncomeDetermined.fiscal_year"}


def test_compatible_change_passes_and_release_writes_the_next_version(contract):
    avro, history = contract
    _edit(
        avro,
        "AttributeRequest",
        lambda s: s["fields"].append(
            {"name": "urgency", "type": ["null", "int"], "default": None, "doc": "How urgent."}
        ),
    )
    _edit(avro, "IncomeDetermined", lambda s: _field(s, "fiscal_year").update(type="long"))
    # int -> long: new readers read old data, but v1 cannot read a long
    problems = evolution.check(avro, history)
    assert {(p.schema, p.direction) for p in problems} == {("IncomeDetermined", "v1 reads current")}
    _edit(avro, "IncomeDetermined", lambda s: _field(s, "fiscal_year").update(type="int"))

    assert evolution.check(avro, history) == []
    assert evolution.release(avro, history) == [("AttributeRequest", 2)]
    assert (history / "AttributeRequest" / "v2.avsc").exists()
    assert evolution.release(avro, history) == []  # nothing changed since


def test_documentation_edits_are_not_a_new_version(contract):
    avro, history = contract
    _edit(avro, "Notice", lambda s: s.update(doc="Reworded."))
    assert evolution.unreleased(avro, history) == []


def test_release_refuses_a_breaking_change(contract):
    avro, history = contract
    _edit(avro, "Notice", lambda s: s["fields"].append({"name": "x", "type": "string", "doc": "x"}))
    with pytest.raises(evolution.EvolutionError, match=r"Notice\.x"):
        evolution.release(avro, history)
    result = CliRunner().invoke(
        schemas_app, ["release", "--avro-dir", str(avro), "--history-dir", str(history)]
    )
    assert result.exit_code == 1
    released = len(list((HISTORY_DIR / "Notice").glob("v*.avsc")))
    assert not (history / "Notice" / f"v{released + 1}.avsc").exists()


def test_samples_cover_every_union_branch_and_enum_symbol():
    schema = json.loads((HISTORY_DIR / "AttributeAnswer" / "v1.avsc").read_text("utf-8"))
    samples = evolution.sample_records(schema)
    values = [v["value"] for s in samples for v in s["values"]]
    kinds = {type(v).__name__ for v in values}
    assert {"NoneType", "bool", "int", "str", "dict"} <= kinds


def test_a_new_denial_reason_symbol_is_refused_even_with_an_enum_default(contract):
    """Why PROVIDER_TIMEOUT is a message of its own: released readers of DenialReason have no
    enum default, so whatever default the new schema declares, they cannot read the symbol."""
    avro, history = contract

    def add_symbol(schema: dict) -> None:
        schema["symbols"].append("PROVIDER_TIMEOUT")
        schema["default"] = "MALFORMED"

    _edit(avro, "DenialReason", add_symbol)
    problems = evolution.check(avro, history)
    refused = {(p.schema, p.direction) for p in problems}
    assert ("RequestDenied", "v1 reads current") in refused
    assert ("ProvisionRecord", "v1 reads current") in refused
    assert all("PROVIDER_TIMEOUT" in p.problem for p in problems)
    assert not any(p.direction.startswith("current reads") for p in problems)


def test_a_reader_of_an_earlier_provision_record_sees_a_timeout_as_not_provided():
    """Old readers of the new writer: a v2 reader decodes a PROVIDER_TIMEOUT record as a
    request that was not provided (DENIED) with no reason code, and nothing else changes."""
    import io

    from fastavro import parse_schema, schemaless_reader, schemaless_writer

    from schemas.registry import load_schema_set

    current = load_schema_set(AVRO_DIR).expanded("ProvisionRecord")
    v2 = json.loads((HISTORY_DIR / "ProvisionRecord" / "v2.avsc").read_text("utf-8"))
    written = evolution.sample_records(current)[0]
    written.update(outcome="DENIED", reason=None, provider_timeout=True)
    stream = io.BytesIO()
    schemaless_writer(stream, parse_schema(current, named_schemas={}), written)
    stream.seek(0)
    seen = schemaless_reader(
        stream, parse_schema(current, named_schemas={}), parse_schema(v2, named_schemas={})
    )
    assert seen["outcome"] == "DENIED"
    assert seen["reason"] is None
    assert "provider_timeout" not in seen
    assert str(seen["request_id"]) == written["request_id"]
