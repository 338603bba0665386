"""The generated docs are committed, current, and a valid AsyncAPI 3.0 document."""

import copy
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from schemas import asyncapi
from schemas.cli import DOCS_DIR, schemas_app
from schemas.contract_page import ASYNCAPI_FILE, generated_docs
from schemas.models import MESSAGE_MODELS

SPEC = DOCS_DIR / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"


@pytest.fixture(scope="module")
def asyncapi_schema() -> dict:
    """The official AsyncAPI 3.0.0 JSON schema from npm's @asyncapi/specs (docs/package.json)."""
    if not SPEC.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install @asyncapi/specs (docs/package.json)")
        subprocess.run(
            [npm, "ci", "--prefix", str(DOCS_DIR), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return json.loads(SPEC.read_text("utf-8"))


def test_committed_docs_are_generated_from_the_current_schemas():
    for name, text in generated_docs().items():
        assert (DOCS_DIR / name).read_text("utf-8") == text, (
            f"docs/{name} is stale: run `renkei schemas docs`"
        )
    result = CliRunner().invoke(schemas_app, ["docs", "--check"])
    assert result.exit_code == 0, result.output


def test_docs_check_reports_stale_files(tmp_path: Path):
    (tmp_path / ASYNCAPI_FILE).write_text("{}", "utf-8")
    result = CliRunner().invoke(schemas_app, ["docs", "--check", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert ASYNCAPI_FILE in result.output


def test_asyncapi_document_is_valid_against_the_official_schema(asyncapi_schema):
    document = json.loads((DOCS_DIR / ASYNCAPI_FILE).read_text("utf-8"))
    validator = jsonschema.Draft7Validator(asyncapi_schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []


def test_the_official_schema_does_reject_a_broken_document(asyncapi_schema):
    document = asyncapi.build()
    broken = copy.deepcopy(document)
    broken["operations"]["sendToHub"]["action"] = "publish"  # AsyncAPI 2 wording
    validator = jsonschema.Draft7Validator(asyncapi_schema)
    assert list(validator.iter_errors(broken))


def test_every_message_is_on_a_topic_of_the_domain():
    document = asyncapi.build()
    on_channels = {m for c in document["channels"].values() for m in c["messages"]}
    assert on_channels == set(MESSAGE_MODELS)
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {
        "agency.{agencyId}.out",
        "agency.{agencyId}.in",
        "renkei.provision-records",
        "renkei.dead-letters",
        "renkei.control",
        "renkei.control.acks",
        "renkei.oversight.signals",
    }
    payload = document["components"]["messages"]["AttributeRequest"]["payload"]
    assert payload["schemaFormat"] == "application/vnd.apache.avro+json;version=1.9.0"
    assert payload["schema"]["name"] == "AttributeRequest"
