"""Topic names (DOMAIN.md §4) and their idempotent creation.

The topic authenticates the sender: with per-agency ACLs only agency X can write
`agency.X.out`, and only the hub writes `agency.X.in`. Adding an agency is creating its two
topics (and ACLs) and registering it on the control topic — no code change.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError, for_code

from producers.connection import kafka_options
from schemas.topics import (
    CONTROL,
    CONTROL_ACKS,
    DEAD_LETTERS,
    OVERSIGHT_SIGNALS,
    PROVISION_RECORDS,
    inbound,
    outbound,
)
from schemas.vocabulary import AGENCY_ID_PATTERN

__all__ = [
    "CONTROL",
    "CONTROL_ACKS",
    "DEAD_LETTERS",
    "LAYOUT",
    "OVERSIGHT_SIGNALS",
    "PERSONS",
    "PROVISION_RECORDS",
    "STATE",
    "inbound",
    "outbound",
    "owner_of",
]

PERSONS = "renkei.hub.persons"  # hub-internal: every message re-keyed by person
STATE = "renkei.hub.state"  # hub-internal: compacted changelog of per-person state
LAYOUT = "renkei.hub.layout"  # hub-internal: the partition count the state was built with
# Topics whose partition count is the hub's (fixed once state is built on it; hub/layout.py).
PARTITIONED_HUB_TOPICS = (PERSONS, STATE, PROVISION_RECORDS)

OUT_PATTERN = r"agency\..+\.out"
_AGENCY_TOPIC = re.compile(r"agency\.(?P<agency>[^.]+)\.(?P<direction>in|out)")
_AGENCY_ID = re.compile(AGENCY_ID_PATTERN)

FOREVER = "-1"
DEAD_LETTER_RETENTION = str(7 * 24 * 3600 * 1000)
ACK_RETENTION = str(24 * 3600 * 1000)  # read by the command waiting for them, within minutes
LEADER_WAIT_SECONDS = 30


def owner_of(topic: str) -> str | None:
    """The agency whose `agency.<id>.out` this is; None for any other topic or a bad id."""
    m = _AGENCY_TOPIC.fullmatch(topic)
    if m is None or m["direction"] != "out" or not _AGENCY_ID.match(m["agency"]):
        return None
    return m["agency"]


PRODUCTION_REPLICATION = 3  # with min.insync.replicas=2: one broker may be down
LOCAL_REPLICATION = 1  # the single local development broker


class TopicCreationError(RuntimeError):
    """The cluster refused to create a topic (the operator's layout does not fit the cluster)."""


@dataclass(frozen=True)
class TopicLayout:
    """How many partitions and replicas the hub's topics get.

    The hub partition count is fixed once the hub's state is built on it (DOMAIN.md §13): it
    bounds how many replicas share the work, and changing it is a migration, not an alter.
    """

    hub_partitions: int = 6
    agency_partitions: int = 3
    replication: int = LOCAL_REPLICATION

    def hub_topics(self) -> list[NewTopic]:
        n, r = self.hub_partitions, self.replication
        return [
            NewTopic(PERSONS, n, r),
            NewTopic(STATE, n, r, topic_configs={"cleanup.policy": "compact"}),
            # The broker stamps each command with the time it was appended, which the replay
            # guard compares with the time it was signed (hub/core/control_replay.py).
            NewTopic(
                CONTROL,
                1,
                r,
                topic_configs={"retention.ms": FOREVER, "message.timestamp.type": "LogAppendTime"},
            ),
            NewTopic(CONTROL_ACKS, 1, r, topic_configs={"retention.ms": ACK_RETENTION}),
            NewTopic(LAYOUT, 1, r, topic_configs={"cleanup.policy": "compact"}),
            NewTopic(PROVISION_RECORDS, n, r, topic_configs={"retention.ms": FOREVER}),
            # Malformed input can hold anything, even a number in clear: kept for operators'
            # week of repair and replay, not for years.
            NewTopic(DEAD_LETTERS, 1, r, topic_configs={"retention.ms": DEAD_LETTER_RETENTION}),
            # Written by the oversight body (ppc), which may not create topics itself.
            NewTopic(OVERSIGHT_SIGNALS, 1, r, topic_configs={"retention.ms": FOREVER}),
        ]

    def agency_topics(self, agency: str) -> list[NewTopic]:
        p, r = self.agency_partitions, self.replication
        # The broker stamps what an agency sends: the hub meters and dates it by that time,
        # which the sender cannot set (hub.ingress.received_at_us).
        stamped = {"message.timestamp.type": "LogAppendTime"}
        return [
            NewTopic(outbound(agency), p, r, topic_configs=stamped),
            NewTopic(inbound(agency), p, r),
        ]


async def ensure_topics(bootstrap: str, topics: list[NewTopic]) -> list[str]:
    """Create the topics that do not exist yet; return the names created (idempotent)."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            # another replica or operator may have created one meanwhile
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics(missing)
                _raise_refusals(response.topic_errors)
            await _wait_for_leaders(admin, [t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Wait until every partition of the new topics has a leader, so the first read or write
    of a topic just created does not meet NOT_LEADER (a fresh topic elects in a moment)."""
    deadline = asyncio.get_running_loop().time() + LEADER_WAIT_SECONDS
    while True:
        described = await admin.describe_topics(names)
        if all(d["partitions"] and all(p["leader"] >= 0 for p in d["partitions"])
               for d in described):  # fmt: skip
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TopicCreationError(f"no leader for the new topics after {LEADER_WAIT_SECONDS} s")
        await asyncio.sleep(0.2)


def _raise_refusals(topic_errors: list[tuple[Any, ...]]) -> None:
    """Turn the per-topic error codes of a CreateTopics response into one clear error."""
    refused, too_few_brokers = [], False
    for name, code, *message in topic_errors:
        if code in (0, TopicAlreadyExistsError.errno):
            continue
        detail = next((m for m in message if m), None) or for_code(code).message
        refused.append(f"{name}: {detail}")
        too_few_brokers |= code == InvalidReplicationFactorError.errno
    if refused:
        hint = (
            " (a replication factor above the number of brokers is refused: use "
            "--replication 1 on a single local broker, 3 on a production cluster)"
            if too_few_brokers
            else ""
        )
        raise TopicCreationError("the cluster refused to create " + "; ".join(refused) + hint)
