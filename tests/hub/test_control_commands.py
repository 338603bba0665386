"""Operators' control commands on the real broker report what every live hub replica did.

`renkei hub …` runs as a process of its own (the real command line) against two hub replicas
running in the test: each acknowledges every command, applied or refused with its reason; the
command prints who applied, who refused and why, and fails when nobody applied or anybody
refused; with no replica running it says so after waiting. Offboarding retires the agency in
every replica's registry, so what it still sends is refused and nothing reaches it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.cli import read_dead_letters
from hub.control_acks import publish_and_confirm
from hub.control_signatures import generate_control_keys
from hub.core import Keyring
from hub.deadletters import DeadLetter
from hub.onboarding import retirement
from hub.readers import partitions_of
from hub.service import Hub
from schemas.codec import encode
from schemas.models import AttributeRequest, EnrolmentConfirmed, RequestDenied
from schemas.topics import inbound, outbound
from schemas.vocabulary import DenialReason

from .harness import (
    ScriptedAgency,
    advance_rollout,
    dev_keys,
    meta,
    new_number,
    onboard,
    renkei,
    running_hub,
    wait_until,
)

pytestmark = pytest.mark.kafka

A, B = "mun-13101", "mun-27100"  # A is offboarded at the end


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return dev_keys()


@pytest.fixture(scope="module")
async def onboarded(isolated_kafka: str) -> str:
    for agency in (A, B):
        await onboard(isolated_kafka, agency)
    await advance_rollout(isolated_kafka, 4)  # the last phase: every sector live
    return isolated_kafka


@pytest.fixture(scope="module")
async def replicas(onboarded: str, keys: Keyring) -> AsyncIterator[tuple[Hub, Hub]]:
    async with running_hub(onboarded, keys) as first, running_hub(onboarded, keys) as second:
        await wait_until(lambda: first.ready and second.ready, timeout=120)
        yield first, second


def ids(replicas: tuple[Hub, Hub]) -> list[str]:
    return [hub.config.replica_id for hub in replicas]


async def test_with_no_replica_running_a_command_says_so_after_waiting(
    onboarded: str, keys: Keyring
) -> None:
    async with running_hub(onboarded, keys):
        pass  # a replica ran once and stopped (left its groups)
    began = time.monotonic()
    code, output = await renkei("hub", "rollout", "pause", "welfare", "--bootstrap", onboarded,
                                "--wait", "4")  # fmt: skip
    assert code == 1, output
    assert time.monotonic() - began >= 4
    assert "No hub replica is running" in output
    assert "0 applied, 0 refused, 0 silent of 0 live" in output


async def test_every_live_replica_acknowledges_a_command_it_applied(
    onboarded: str, replicas: tuple[Hub, Hub]
) -> None:
    code, output = await renkei("hub", "rollout", "resume", "welfare", "--bootstrap", onboarded,
                                "--wait", "120")  # fmt: skip
    assert code == 0, output
    assert "2 applied, 0 refused, 0 silent of 2 live replica(s)" in output
    for replica in ids(replicas):
        assert f"applied  {replica}" in output
    assert all("welfare" not in {s.value for s in hub.control.rollout.paused} for hub in replicas)


async def test_a_command_the_rules_refuse_is_reported_refused_with_the_reason(
    onboarded: str, replicas: tuple[Hub, Hub]
) -> None:
    code, output = await renkei("hub", "rollout", "advance", "--bootstrap", onboarded,
                                "--wait", "120")  # fmt: skip
    assert code == 1, output
    assert "0 applied, 2 refused, 0 silent of 2 live replica(s)" in output
    for replica in ids(replicas):
        assert f"refused  {replica}: refused_by_rule (already at the last phase (4))" in output
    assert all(hub.control.rollout.phase == 4 for hub in replicas)


async def test_a_command_signed_with_a_key_the_hub_does_not_trust_is_reported_refused(
    onboarded: str, replicas: tuple[Hub, Hub], tmp_path: Path
) -> None:
    other_keys = generate_control_keys(tmp_path)  # a genuine key pair, not the trusted one
    code, output = await renkei(
        "hub", "suspend", B, "forged", "--bootstrap", onboarded, "--wait", "120",
        env={"RENKEI_PPC_KEY_FILE": other_keys["RENKEI_PPC_KEY_FILE"]},
    )  # fmt: skip
    assert code == 1, output
    for replica in ids(replicas):
        assert f"refused  {replica}: wrong_signature" in output
    assert all(B not in hub.control.suspended for hub in replicas)


async def test_an_offboarded_agency_is_refused_and_receives_nothing(
    onboarded: str, replicas: tuple[Hub, Hub], keys: Keyring
) -> None:
    bootstrap = onboarded
    a, b = (ScriptedAgency(bootstrap, x, keys.public_sealing_key) for x in (A, B))
    await a.start()
    await b.start()
    try:
        number = new_number()
        await a.enrol(number)
        b_code = await b.enrol(number)
        onboarded_then = await ask(b, b_code)  # denied later on: no such trigger event
        assert onboarded_then.reason is DenialReason.NO_TRIGGER_EVENT, onboarded_then.message

        # Retired in every replica's registry (topics kept, as where Kubernetes removes them)
        [retired] = await publish_and_confirm(bootstrap, retirement(A), within=120)
        assert retired.succeeded
        assert sorted(retired.applied) == sorted(ids(replicas))
        assert all(A not in hub.control.agencies for hub in replicas)
        inbox_before = len(a.inbox)

        enrolment = a.enrolment(new_number())
        await a.send(enrolment)
        letter = await dead_letter_of(bootstrap, encode(enrolment))
        assert letter.reason == "NOT_ENTITLED"
        denied = await ask(b, b_code)
        assert denied.reason is DenialReason.OUTSIDE_ROLLOUT
        assert "not an onboarded agency" in denied.message
        assert a.inbox[inbox_before:] == []  # no confirmation, no query
        assert not [m for m in a.received(EnrolmentConfirmed)
                    if m.request_id == enrolment.request_id]  # fmt: skip
    finally:
        await a.stop()
        await b.stop()

    # The command retires it again (changing nothing) and removes its topics.
    code, output = await renkei("hub", "offboard", A, "--bootstrap", bootstrap, "--wait", "120")
    assert code == 0, output
    assert "2 applied, 0 refused" in output
    for _ in range(300):  # the broker deletes topics in the background
        remaining = [t for t in (outbound(A), inbound(A)) if await partitions_of(bootstrap, t)]
        if not remaining:
            break
        await asyncio.sleep(0.1)
    assert remaining == []


async def ask(b: ScriptedAgency, person_code: bytes) -> RequestDenied:
    """B asks A for the person's resident-tax facts, citing no real event: the denial."""
    request = AttributeRequest(
        metadata=meta(B), request_id=uuid.uuid4(), person_code=person_code, provider=A,
        purpose="resident_tax_assessment", legal_basis_row="tx-01",
        attributes=["taxable_income"], trigger_event_id=uuid.uuid4(),
    )  # fmt: skip
    await b.send(request)
    return await b.expect(RequestDenied, lambda d: d.request_id == request.request_id)


async def dead_letter_of(bootstrap: str, value: bytes) -> DeadLetter:
    for _ in range(600):
        for letter in await read_dead_letters(bootstrap):
            if letter.value == value:
                return letter
        await asyncio.sleep(0.1)
    raise AssertionError("no dead letter for the offboarded agency's message")
