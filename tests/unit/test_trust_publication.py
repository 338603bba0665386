"""The trust table published on the control channel: every replica applies the same version,
and a document that is not what its message claims changes nothing."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from hub.control import ControlState, operator_metadata
from hub.core.trust import default_trust_table
from schemas.models import TrustTablePublished

SHIPPED = resources.files("hub").joinpath("data/trust.json").read_text("utf-8")


def published(
    text: str, *, version: str | None = None, sha256: str | None = None
) -> TrustTablePublished:
    return TrustTablePublished(
        metadata=operator_metadata("op-legal"),
        version=version or json.loads(text)["version"],
        sha256=sha256 or hashlib.sha256(text.encode()).hexdigest(),
        table_json=text,
    )


def without_portal_consents() -> str:
    """The shipped table, version 2026.2, in which only a hospital with a token asserts consent."""
    document = json.loads(SHIPPED)
    document["version"] = "2026.2"
    for fact in document["facts"]:
        if fact["fact"] == "ConsentGiven":
            fact["asserted_by"] = []
    return json.dumps(document)


def test_a_published_trust_table_is_the_one_every_later_assertion_is_judged_by() -> None:
    control = ControlState()
    assert control.trust == default_trust_table()
    assert control.apply(published(without_portal_consents())) is None
    assert control.trust.version == "2026.2"
    rule = control.trust.rule("ConsentGiven")
    assert not rule.asserted_by
    assert rule.with_consent_token  # the hospital's token path is untouched


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"sha256": "0" * 64}, "does not match its published sha256"),
        ({"version": "2027.1"}, "published as '2027.1'"),
    ],
)
def test_a_published_table_that_is_not_what_its_message_says_changes_nothing(
    change: dict[str, str], said: str
) -> None:
    control = ControlState()
    refusal = control.apply(published(without_portal_consents(), **change))
    assert refusal is not None
    assert said in refusal
    assert control.trust == default_trust_table()


def test_an_invalid_published_table_is_refused_naming_the_fact_and_changes_nothing() -> None:
    document = json.loads(SHIPPED)
    document["facts"][0]["asserted_by"] = ["wizard"]
    control = ControlState()
    refusal = control.apply(published(json.dumps(document)))
    assert refusal is not None
    assert document["facts"][0]["fact"] in refusal
    assert control.trust == default_trust_table()


@pytest.mark.parametrize(("text", "said"), [("{not json", "not JSON"), ("[]", "a JSON object")])
def test_a_published_document_that_is_no_table_at_all_is_refused(text: str, said: str) -> None:
    control = ControlState()
    refusal = control.apply(published(text, version="v9"))
    assert refusal is not None
    assert said in refusal
    assert control.trust == default_trust_table()
