"""Publishing a control command and waiting until every live hub replica says what it did.

Each hub replica acknowledges on `renkei.control.acks` every control record it reads after it
started (hub.control.ControlReader): applied, or refused with the reason. The command that
published waits for those acknowledgements, up to a timeout, and reports who applied, who
refused and why, and who stayed silent.

Who is live: the members of the hub's two consumer groups (`renkei-hub-ingress`,
`renkei-hub-router`), each listed by its Kafka client id, which is the replica id
(`renkei hub run --replica-id`). A replica joins them only after it read the control topic to
its end, so every member acknowledges every command published while it is a member. A replica
that crashed stays a member until its session times out (10 s by default) and is then
reported silent; a replica that starts after the command applies it while catching up and
does not acknowledge it (the command is history to it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import TopicPartition

from hub.control import publish_control
from hub.control_signatures import ControlSigning
from hub.readers import committed_reader, partitions_of
from hub.service import INGRESS_GROUP, ROUTER_GROUP
from hub.topics import CONTROL_ACKS
from producers.connection import kafka_options
from schemas.codec import DecodeError, decode
from schemas.models import ControlAcknowledged, Message

HUB_GROUPS = (INGRESS_GROUP, ROUTER_GROUP)
DEFAULT_WAIT_SECONDS = 30.0
COORDINATOR_ATTEMPTS = 10


class ReplicasUnknown(RuntimeError):
    """The broker would not describe the hub's consumer groups (this principal's rights)."""


@dataclass
class Confirmation:
    """What the live replicas said about one control command."""

    offset: int
    message_type: str
    live: frozenset[str]
    answers: dict[str, ControlAcknowledged] = field(default_factory=dict)

    @property
    def applied(self) -> list[str]:
        return sorted(r for r, a in self.answers.items() if a.applied)

    @property
    def refused(self) -> list[ControlAcknowledged]:
        return sorted((a for a in self.answers.values() if not a.applied),
                      key=lambda a: a.replica)  # fmt: skip

    @property
    def silent(self) -> list[str]:
        return sorted(self.live - self.answers.keys())

    @property
    def complete(self) -> bool:
        """Every live replica answered (and at least one replica is live)."""
        return bool(self.live) and not self.silent

    @property
    def succeeded(self) -> bool:
        """Somebody applied it and nobody refused it."""
        return bool(self.applied) and not self.refused


async def live_replicas(bootstrap: str) -> frozenset[str]:
    """The replica ids of the members of the hub's consumer groups now."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        replicas: set[str] = set()
        for group_id in HUB_GROUPS:
            for response in await _describe(admin, group_id):
                for error_code, name, _state, _ptype, _protocol, members, *_ in response.groups:
                    if error_code != 0:
                        raise ReplicasUnknown(
                            f"the broker would not describe consumer group {name} (error "
                            f"{error_code}): this principal needs Describe on the hub's "
                            "groups (renkei hub principal operator/ppc grants it)"
                        )
                    replicas.update(member[1] for member in members)
        return frozenset(replicas)
    finally:
        await admin.close()


async def _describe(admin: AIOKafkaAdminClient, group_id: str) -> list[Any]:
    """The group's description; none where no group has a coordinator yet (a cluster where no
    consumer group ever ran has no offsets topic: then no hub replica ever ran either), after
    a few seconds' retries for a coordinator moving between brokers."""
    for _ in range(COORDINATOR_ATTEMPTS):
        try:
            return list(await admin.describe_consumer_groups([group_id]))
        except GroupCoordinatorNotAvailableError:
            await asyncio.sleep(0.5)
    return []


async def publish_and_confirm(
    bootstrap: str,
    *messages: Message,
    within: float = DEFAULT_WAIT_SECONDS,
    signing: ControlSigning | None = None,
) -> list[Confirmation]:
    """Publish `messages` on the control topic and wait up to `within` seconds until every
    live replica acknowledged each; one Confirmation per message, in order (with `within` 0,
    only published: nobody is asked)."""
    if within <= 0:
        offsets = await publish_control(bootstrap, *messages, signing=signing)
        return [
            Confirmation(o, m.MESSAGE_TYPE, frozenset())
            for o, m in zip(offsets, messages, strict=True)
        ]
    tp = TopicPartition(CONTROL_ACKS, 0)
    consumer = committed_reader(bootstrap)
    await consumer.start()
    try:
        acknowledged = bool(await partitions_of(bootstrap, CONTROL_ACKS))
        if acknowledged:  # no hub ever ran where the topic is absent: nobody will answer
            consumer.assign([tp])
            consumer.seek(tp, (await consumer.end_offsets([tp]))[tp])
        offsets = await publish_control(bootstrap, *messages, signing=signing)
        live = await live_replicas(bootstrap)
        confirmations = {
            offset: Confirmation(offset, message.MESSAGE_TYPE, live)
            for offset, message in zip(offsets, messages, strict=True)
        }
        if acknowledged:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_collect(consumer, tp, confirmations), within)
        else:
            await asyncio.sleep(within if live else 0)
        return [confirmations[o] for o in offsets]
    finally:
        await consumer.stop()


async def _collect(
    consumer: AIOKafkaConsumer, tp: TopicPartition, confirmations: dict[int, Confirmation]
) -> None:
    """Read acknowledgements into `confirmations` until each is complete (or forever)."""
    while not _all_complete(confirmations.values()):
        batch = await consumer.getmany(tp, timeout_ms=200)
        for record in batch.get(tp, []):
            try:
                answer = decode(record.value or b"")
            except DecodeError:
                continue  # only the hub writes here (ACL); nothing to say about an odd record
            if isinstance(answer, ControlAcknowledged) and answer.control_offset in confirmations:
                confirmations[answer.control_offset].answers[answer.replica] = answer


def _all_complete(confirmations: Iterable[Confirmation]) -> bool:
    return all(c.complete for c in confirmations)
