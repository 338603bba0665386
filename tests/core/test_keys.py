"""Key sets: generated for development, loaded from a file or the environment, validated."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from hub.cli_keys import keys_app
from hub.core.keyring import Keyring
from hub.core.keys import (
    KEYS_FILE_ENV,
    KEYS_JSON_ENV,
    KeySetError,
    generate_key_set,
    load_key_set,
    parse_key_set,
    rotate,
)
from schemas.consent_token import issue_consent_token, read_consent_token

from .conftest import seeded_bytes


def test_a_generated_development_key_set_parses() -> None:
    key_set = parse_key_set(generate_key_set(seeded_bytes(1)))
    assert key_set.purpose == "development"
    assert key_set.link_codes.current == 1
    assert len(key_set.link_codes.keys[1]) == 64
    assert len(key_set.blind_index) == 32


def test_the_key_set_is_read_from_the_environment_or_a_file(tmp_path: Path) -> None:
    document = generate_key_set(seeded_bytes(2))
    from_json = load_key_set({KEYS_JSON_ENV: json.dumps(document)})
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document))
    assert load_key_set({KEYS_FILE_ENV: str(path)}) == from_json


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({}, "no key set"),
        ({KEYS_FILE_ENV: "/nonexistent/keys.json"}, "cannot read"),
        ({KEYS_JSON_ENV: "{"}, "not valid JSON"),
        ({KEYS_JSON_ENV: "[]"}, "JSON object"),
    ],
)
def test_missing_or_unreadable_key_configuration_is_an_operator_error(
    environ: dict[str, str], complaint: str
) -> None:
    with pytest.raises(KeySetError, match=complaint):
        load_key_set(environ)


def _broken(**changes: object) -> dict[str, object]:
    return {**generate_key_set(seeded_bytes(3)), **changes}


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (_broken(format="other"), "format"),
        (_broken(purpose="testing"), "purpose"),
        (_broken(blind_index="zz"), "hexadecimal"),
        (_broken(blind_index="00"), "32 bytes"),
        (_broken(link_codes={"current": "1"}), "expected an object"),
        (_broken(link_codes={"current": "2", "keys": {"1": "00" * 64}}), "current key id 2"),
        (_broken(reply_tokens={"current": "1", "keys": {"300": "00" * 64}}), "1 to 255"),
    ],
)
def test_an_invalid_key_set_is_refused_without_echoing_key_material(
    document: dict[str, object], complaint: str
) -> None:
    with pytest.raises(KeySetError, match=complaint) as caught:
        parse_key_set(document)
    assert "00" * 16 not in str(caught.value)


def test_rotation_adds_a_generation_and_the_blind_index_does_not_rotate() -> None:
    document = generate_key_set(seeded_bytes(4))
    rotated = rotate(document, "reply_tokens", os.urandom)
    assert set(parse_key_set(rotated).reply_tokens.keys) == {1, 2}
    with pytest.raises(KeySetError, match="re-enrols"):
        rotate(document, "blind_index", os.urandom)
    full = {**document, "link_codes": {"current": "255", "keys": {"255": "00" * 64}}}
    with pytest.raises(KeySetError, match="all 255"):
        rotate(full, "link_codes", os.urandom)


def test_the_keys_command_writes_a_private_development_key_file(tmp_path: Path) -> None:
    out = tmp_path / "dev-keys.json"
    runner = CliRunner()
    assert runner.invoke(keys_app, ["generate", "--out", str(out)]).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert parse_key_set(json.loads(out.read_text())).purpose == "development"
    assert runner.invoke(keys_app, ["generate", "--out", str(out)]).exit_code == 1
    assert runner.invoke(keys_app, ["generate", "--out", str(out), "--force"]).exit_code == 0
    rotated = runner.invoke(keys_app, ["rotate", str(out), "--section", "link_codes"])
    assert rotated.exit_code == 0
    assert "now 2" in rotated.output
    assert runner.invoke(keys_app, ["rotate", str(tmp_path / "missing.json")]).exit_code == 1


def test_the_hub_trusts_the_consent_token_key_the_portal_publishes(tmp_path: Path) -> None:
    runner = CliRunner()
    hub_file = tmp_path / "keys.json"
    assert runner.invoke(keys_app, ["generate", "--out", str(hub_file)]).exit_code == 0
    portal_key = Ed25519PrivateKey.generate()  # the portal's; only its public half leaves it
    public = portal_key.public_key().public_bytes_raw().hex()
    added = runner.invoke(keys_app, ["trust-issuer", str(hub_file), "portal-1", public])
    assert added.exit_code == 0, added.output
    trusted = Keyring.from_key_set(parse_key_set(json.loads(hub_file.read_text())))
    token = issue_consent_token(portal_key, "portal-1", portal_person_code=b"c",
                                institution="med-0001", purpose="continuity_of_care",
                                now=datetime.now(UTC))  # fmt: skip
    assert read_consent_token(token, trusted.consent_token_issuers).institution == "med-0001"
    bad = runner.invoke(keys_app, ["trust-issuer", str(hub_file), "portal-2", "zz"])
    assert bad.exit_code == 1
    shown = runner.invoke(keys_app, ["public", str(hub_file)])
    assert shown.exit_code == 0
    assert f"RENKEI_HUB_SEALING_KEY={trusted.public_sealing_key}" in shown.output
