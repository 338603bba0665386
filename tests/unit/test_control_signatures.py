"""Who signs which control command, and errors that name the setting to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.control import operator_metadata
from hub.control_signatures import (
    ControlKeyError,
    Refusal,
    Signer,
    generate_control_keys,
    load_signing,
    load_trust,
    required_signer,
)
from schemas.codec import encode
from schemas.models import (
    AgencyRegistered,
    AgencySuspension,
    LegalBasisTablePublished,
    RateBudgetSet,
    RolloutChange,
    RolloutOperation,
    TrustTablePublished,
)
from schemas.vocabulary import AgencyKind

ADVANCE = RolloutChange(metadata=operator_metadata("op-test"), operation=RolloutOperation.ADVANCE)
SUSPEND = AgencySuspension(metadata=operator_metadata("ppc"), agency="jps", suspended=True,
                           reason="r")  # fmt: skip


def test_suspensions_need_the_ppc_key_and_every_other_command_the_operators() -> None:
    registered = AgencyRegistered(
        metadata=operator_metadata("op-test"),
        agency="jps",
        kind=AgencyKind.JPS,
        key_id="1",
        subscriptions=[],
    )
    table = LegalBasisTablePublished(metadata=operator_metadata("op-test"), version="v1",
                                     sha256="0" * 64, table_json="{}")  # fmt: skip
    budget = RateBudgetSet(metadata=operator_metadata("op-test"), burst=10, per_second=1,
                           reason="r")  # fmt: skip
    trust = TrustTablePublished(metadata=operator_metadata("op-test"), version="v1",
                                sha256="0" * 64, table_json="{}")  # fmt: skip
    assert required_signer(SUSPEND) is Signer.PPC
    commands = (ADVANCE, registered, table, budget, trust)
    assert {required_signer(m) for m in commands} == {Signer.OPERATOR}


def test_a_signature_verifies_only_for_the_bytes_and_the_key_it_was_made_for(
    tmp_path: Path,
) -> None:
    env = generate_control_keys(tmp_path)
    signing, trust = load_signing(env), load_trust(env)
    value = encode(ADVANCE)
    signature = signing.signature(ADVANCE, value)
    assert trust.check(ADVANCE, value, signature) is None
    assert trust.check(ADVANCE, value + b"\x00", signature) is Refusal.WRONG_SIGNATURE
    assert trust.check(ADVANCE, value, None) is Refusal.UNSIGNED
    suspension = encode(SUSPEND)  # signed with the operators' key instead of the ppc's
    operators = signing.keys[Signer.OPERATOR]
    assert trust.check(SUSPEND, suspension, operators.sign(suspension)) is (Refusal.WRONG_SIGNATURE)


def test_a_hub_without_trusted_keys_is_told_which_setting_to_set() -> None:
    with pytest.raises(ControlKeyError, match="RENKEI_OPERATOR_PUBLIC_KEY_FILE"):
        load_trust({})


def test_signing_without_the_needed_key_names_its_setting(tmp_path: Path) -> None:
    env = generate_control_keys(tmp_path)
    operators_only = load_signing({k: v for k, v in env.items() if "PPC" not in k})
    operators_only.signature(ADVANCE, encode(ADVANCE))
    with pytest.raises(ControlKeyError, match="RENKEI_PPC_KEY_FILE"):
        operators_only.signature(SUSPEND, encode(SUSPEND))


def test_a_key_file_of_the_wrong_kind_is_refused_by_name(tmp_path: Path) -> None:
    env = generate_control_keys(tmp_path)
    swapped = env | {"RENKEI_PPC_PUBLIC_KEY_FILE": env["RENKEI_PPC_KEY_FILE"]}
    with pytest.raises(ControlKeyError, match="RENKEI_PPC_PUBLIC_KEY_FILE"):
        load_trust(swapped)
