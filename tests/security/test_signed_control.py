"""Control is authenticated twice: whoever gets a record onto the control topic still cannot
steer the hub without the operators' key (the ppc's for suspensions), and nothing written
there, however malformed, stops the control reader or a later start-up.

A real hub on a real, secured broker of this module's own; the records are written as the
bootstrap admin (past every ACL), so only the signature stands between them and the hub.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from hub.control import operator_metadata, publish_control
from hub.control_signatures import SIGNATURE_HEADER, Signer, load_signing, sign
from hub.service import Hub
from producers.connection import kafka_options
from schemas.codec import encode
from schemas.models import AgencySuspension, Message, Metadata, RolloutChange, RolloutOperation
from schemas.topics import CONTROL

from ..hub.harness import dev_keys, onboard, running_hub, wait_until

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
async def hub(isolated_kafka: str) -> AsyncIterator[Hub]:
    await onboard(isolated_kafka, "mun-13101")
    async with running_hub(isolated_kafka, dev_keys()) as running:
        yield running


async def write_control(bootstrap: str, value: bytes, signature: bytes | None) -> None:
    headers = [] if signature is None else [(SIGNATURE_HEADER, signature)]
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(CONTROL, value, partition=0, headers=headers)
    finally:
        await producer.stop()


def advance() -> RolloutChange:
    return RolloutChange(metadata=operator_metadata("op-test"), operation=RolloutOperation.ADVANCE)


def suspension() -> AgencySuspension:
    return AgencySuspension(metadata=operator_metadata("ppc"), agency="mun-13101",
                            suspended=True, reason="attack")  # fmt: skip


async def refused_without_effect(hub: Hub, bootstrap: str, value: bytes, sig: bytes | None) -> None:
    phase, suspended, refused = (
        hub.control.rollout.phase,
        dict(hub.control.suspended),
        (hub.control.refused),
    )
    await write_control(bootstrap, value, sig)
    await wait_until(lambda: hub.control.refused > refused, timeout=30)
    assert hub.control.rollout.phase == phase
    assert hub.control.suspended == suspended
    assert hub.control_reader.running
    await wait_until(lambda: hub.ready, timeout=60)  # (after another test's replica left)


def operator_signature(message: Message, value: bytes) -> bytes:
    return load_signing().signature(message, value)


async def test_an_unsigned_rollout_change_is_refused(isolated_kafka: str, hub: Hub) -> None:
    await refused_without_effect(hub, isolated_kafka, encode(advance()), None)


async def test_a_rollout_change_signed_by_another_key_is_refused(
    isolated_kafka: str, hub: Hub
) -> None:
    value = encode(advance())
    forged = sign(Ed25519PrivateKey.generate(), value)
    await refused_without_effect(hub, isolated_kafka, value, forged)


async def test_a_signature_of_other_bytes_is_refused(isolated_kafka: str, hub: Hub) -> None:
    signed, value = advance(), encode(advance())  # a genuine signature, of another message
    await refused_without_effect(hub, isolated_kafka, value,
                                 operator_signature(signed, encode(signed)))  # fmt: skip


async def test_a_suspension_signed_by_the_operators_instead_of_the_ppc_is_refused(
    isolated_kafka: str, hub: Hub
) -> None:
    value = encode(suspension())
    operators = load_signing().keys

    await refused_without_effect(
        hub, isolated_kafka, value, sign(operators[Signer.OPERATOR], value)
    )


async def test_undecodable_bytes_on_the_control_topic_are_refused(
    isolated_kafka: str, hub: Hub
) -> None:
    await refused_without_effect(hub, isolated_kafka, b"\xc3\x01" + uuid.uuid4().bytes, b"x" * 64)


@pytest.mark.parametrize("plan_json", ['{"phases": 7}', "[1, 2", '{"phases": [{"sectors": 5}]}'])
async def test_a_signed_but_ill_formed_plan_is_refused_and_the_reader_goes_on(
    isolated_kafka: str, hub: Hub, plan_json: str
) -> None:
    loading = RolloutChange(metadata=operator_metadata("op-test"),
                            operation=RolloutOperation.LOAD_PLAN, plan_json=plan_json)  # fmt: skip
    value = encode(loading)
    await refused_without_effect(hub, isolated_kafka, value, operator_signature(loading, value))


async def test_signed_commands_still_apply_and_a_new_replica_starts_over_every_bad_record(
    isolated_kafka: str, hub: Hub
) -> None:
    phase = hub.control.rollout.phase
    await publish_control(isolated_kafka, advance())  # signed with the configured key
    await wait_until(lambda: hub.control.rollout.phase == phase + 1, timeout=30)
    await publish_control(isolated_kafka, suspension())  # the ppc key
    await wait_until(lambda: "mun-13101" in hub.control.suspended, timeout=30)
    # a replica started now reads every refused record above on its way to the end
    async with running_hub(isolated_kafka, dev_keys()) as second:
        assert second.ready
        assert second.control.rollout.phase == phase + 1
        assert "mun-13101" in second.control.suspended
        assert second.control.refused >= 7


async def test_readiness_turns_false_when_the_control_reader_stops(
    isolated_kafka: str, hub: Hub
) -> None:
    async with running_hub(isolated_kafka, dev_keys()) as replica:
        assert replica.ready
        await replica.control_reader.stop()
        assert not replica.ready


# --- replays: a genuine signature on a command that was already applied ---------------------


def refusals(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("renkei_control_refused_total", labels) or 0.0


def suspension_of(agency: str, suspended: bool, signed_at: datetime | None = None) -> (
    AgencySuspension
):  # fmt: skip
    metadata = Metadata(message_id=uuid.uuid4(), occurred_at=signed_at or datetime.now(UTC),
                        sender="ppc")  # fmt: skip
    return AgencySuspension(metadata=metadata, agency=agency, suspended=suspended,
                            reason="investigation")  # fmt: skip


async def test_a_genuine_suspension_published_again_after_the_reinstatement_is_refused(
    isolated_kafka: str, hub: Hub
) -> None:
    # The oversight body suspends mun-27100 and later reinstates it. Whoever can write the
    # control topic copies the suspension's record, bytes and signature, and publishes it
    # again to suspend mun-27100 a second time.
    suspending = suspension_of("mun-27100", True)
    value = encode(suspending)
    signature = load_signing().signature(suspending, value)
    await write_control(isolated_kafka, value, signature)
    await wait_until(lambda: "mun-27100" in hub.control.suspended, timeout=30)
    await publish_control(isolated_kafka, suspension_of("mun-27100", False))
    await wait_until(lambda: "mun-27100" not in hub.control.suspended, timeout=30)
    replayed = refusals("replayed")

    await refused_without_effect(hub, isolated_kafka, value, signature)

    assert "mun-27100" not in hub.control.suspended
    assert refusals("replayed") == replayed + 1
    # a replica started now reads the original and the copy, and refuses the copy too
    async with running_hub(isolated_kafka, dev_keys()) as second:
        assert "mun-27100" not in second.control.suspended


async def test_a_genuine_rollout_change_published_twice_advances_once(
    isolated_kafka: str, hub: Hub
) -> None:
    change = advance()
    value = encode(change)
    signature = operator_signature(change, value)
    phase = hub.control.rollout.phase
    await write_control(isolated_kafka, value, signature)
    await wait_until(lambda: hub.control.rollout.phase == phase + 1, timeout=30)
    await refused_without_effect(hub, isolated_kafka, value, signature)
    assert hub.control.rollout.phase == phase + 1


async def test_a_command_signed_long_before_it_is_published_is_refused_as_stale(
    isolated_kafka: str, hub: Hub
) -> None:
    # a signed command kept back (or taken from a topic whose history is gone) and published
    # eleven minutes after it was signed, with an id the hub has never seen
    old = suspension_of("mun-13101", False, datetime.now(UTC) - timedelta(minutes=11))
    value = encode(old)
    stale = refusals("stale")
    await refused_without_effect(hub, isolated_kafka, value, load_signing().signature(old, value))
    assert refusals("stale") == stale + 1
