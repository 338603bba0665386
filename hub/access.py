"""Who may touch which topic, group and transactional id (DOMAIN.md §4), as data.

One table for the whole fabric, rendered by whoever needs it: `hub.acl_admin` applies it to a
running cluster when an agency is onboarded (and removes it when offboarded), and deployment
tooling renders the same rules into Kubernetes `KafkaUser` manifests. Pure: no I/O.

The broker refuses everything no rule allows (`allow.everyone.if.no.acl.found=false`):

- agency X: write (and idempotently write) only `agency.X.out`; read only `agency.X.in`;
  consumer groups and transactional ids `renkei-agency-X` and `renkei-agency-X.*`;
- `portal`: all an agency may, and read the provision records;
- `hub`: read every onboarded agency's `.out` and write its `.in`; its own internal topics
  `renkei.hub.*`; write provision records and dead letters; read control and write its
  acknowledgements (`renkei.control.acks`); groups and transactional ids `renkei-hub-*`;
- `operator`: write control; read the replicas' control acknowledgements and describe the
  hub's groups (to wait for every live replica); read dead letters and the oversight signals;
  describe (offsets and partitions, never records) the agencies' topics and the hub's internal
  ones, for `renkei hub lag`; groups `renkei-operator-*`;
- `ppc` (the oversight body): read provision records, dead letters and control; write control
  (suspensions) and wait for its acknowledgements as operators do; read (never write) every
  onboarded agency's `.out`, for the number changes, notices and acknowledgements it counts;
  read and write its signals topic; groups `renkei-ppc-*`.

Nobody else reads or writes a hub-internal topic. The hub's rights on an agency's topics are literal
names, granted when that agency is onboarded: a prefix `agency.` would let the hub read
inboxes, and a never-onboarded agency's topics are readable by nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.topics import (
    CONTROL,
    CONTROL_ACKS,
    DEAD_LETTERS,
    OVERSIGHT_SIGNALS,
    PROVISION_RECORDS,
    inbound,
    outbound,
)
from schemas.vocabulary import agency_kind

HUB = "hub"
OPERATOR = "operator"
PPC = "ppc"
PORTAL = "portal"
SERVICE_PRINCIPALS = (HUB, OPERATOR, PPC)
HUB_INTERNAL_PREFIX = "renkei.hub."
AGENCY_TOPIC_PREFIX = "agency."  # every agency's .out and .in
HUB_GROUP_PREFIX = "renkei-hub-"  # the stages' groups and transactional ids


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    TRANSACTIONAL_ID = "transactionalId"
    CLUSTER = "cluster"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefix"


class Operation(StrEnum):
    """Kafka ACL operations, spelled as Strimzi's KafkaUser spells them."""

    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    DESCRIBE = "Describe"
    IDEMPOTENT_WRITE = "IdempotentWrite"


@dataclass(frozen=True, order=True)
class AclRule:
    """Allow `principal` to do `operation` on a resource (from any host)."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation


class NotAPrincipal(ValueError):
    """The name is neither an agency id nor one of the service principals."""


def agency_group(agency: str) -> str:
    """An agency's default consumer group (the SDK's); its own groups may extend it with '.'."""
    return f"renkei-agency-{agency}"


def _rules(
    principal: str,
    resource: Resource,
    name: str,
    pattern: Pattern,
    *operations: Operation,
) -> list[AclRule]:
    return [AclRule(principal, resource, name, pattern, op) for op in operations]


def _own_namespace(principal: str, group: str) -> list[AclRule]:
    """Consumer groups and transactional ids under a principal's own name (agency ids hold
    no '.', so `renkei-agency-X.` can never be a prefix of another agency's names)."""
    rules: list[AclRule] = []
    for name, pattern in ((group, Pattern.LITERAL), (f"{group}.", Pattern.PREFIXED)):
        rules += _rules(principal, Resource.GROUP, name, pattern, Operation.READ,
                        Operation.DESCRIBE)  # fmt: skip
        rules += _rules(principal, Resource.TRANSACTIONAL_ID, name, pattern, Operation.WRITE,
                        Operation.DESCRIBE)  # fmt: skip
    return rules


def _acknowledgement_readers(principal: str) -> list[AclRule]:
    """Who publishes control waits for the replicas' acknowledgements: it reads them, and
    describes the hub's consumer groups to know which replicas are live (never joins them:
    describing a group is not reading its offsets or taking its partitions)."""
    return [
        *_rules(principal, Resource.TOPIC, CONTROL_ACKS, Pattern.LITERAL, Operation.READ,
                Operation.DESCRIBE),
        *_rules(principal, Resource.GROUP, HUB_GROUP_PREFIX, Pattern.PREFIXED,
                Operation.DESCRIBE),
    ]  # fmt: skip


def agency_rules(agency: str) -> list[AclRule]:
    """What onboarding grants for agency `agency`: its own rights and the hub's on its topics."""
    agency_kind(agency)  # InvalidAgencyId for anything that is not an agency id
    out, inbox = outbound(agency), inbound(agency)
    rules = [
        *_rules(agency, Resource.TOPIC, out, Pattern.LITERAL, Operation.WRITE,
                Operation.DESCRIBE),
        *_rules(agency, Resource.TOPIC, inbox, Pattern.LITERAL, Operation.READ,
                Operation.DESCRIBE),
        *_rules(agency, Resource.CLUSTER, "kafka-cluster", Pattern.LITERAL,
                Operation.IDEMPOTENT_WRITE),
        *_own_namespace(agency, agency_group(agency)),
        *_rules(HUB, Resource.TOPIC, out, Pattern.LITERAL, Operation.READ, Operation.DESCRIBE),
        *_rules(HUB, Resource.TOPIC, inbox, Pattern.LITERAL, Operation.WRITE,
                Operation.DESCRIBE),
        *_rules(PPC, Resource.TOPIC, out, Pattern.LITERAL, Operation.READ, Operation.DESCRIBE),
    ]  # fmt: skip
    if agency == PORTAL:
        rules += _rules(PORTAL, Resource.TOPIC, PROVISION_RECORDS, Pattern.LITERAL,
                        Operation.READ, Operation.DESCRIBE)  # fmt: skip
        rules += _own_namespace(PORTAL, "renkei-portal")
    return sorted(rules)


def service_rules(principal: str) -> list[AclRule]:
    """The fixed rights of `hub`, `operator` and `ppc` (independent of the agencies)."""
    read, write, describe, create = (
        Operation.READ, Operation.WRITE, Operation.DESCRIBE, Operation.CREATE
    )  # fmt: skip
    topic, literal = Resource.TOPIC, Pattern.LITERAL
    match principal:
        case "hub":
            rules = [
                *_rules(HUB, topic, HUB_INTERNAL_PREFIX, Pattern.PREFIXED, read, write,
                        describe, create),
                *_rules(HUB, topic, PROVISION_RECORDS, literal, read, write, describe, create),
                *_rules(HUB, topic, DEAD_LETTERS, literal, write, describe, create),
                *_rules(HUB, topic, CONTROL, literal, read, describe, create),
                *_rules(HUB, topic, CONTROL_ACKS, literal, write, describe, create),
                *_rules(HUB, topic, OVERSIGHT_SIGNALS, literal, describe, create),
                *_rules(HUB, Resource.GROUP, HUB_GROUP_PREFIX, Pattern.PREFIXED, read,
                        describe),
                *_rules(HUB, Resource.TRANSACTIONAL_ID, HUB_GROUP_PREFIX, Pattern.PREFIXED,
                        write, describe),
                *_rules(HUB, Resource.CLUSTER, "kafka-cluster", literal,
                        Operation.IDEMPOTENT_WRITE),
            ]  # fmt: skip
        case "operator":
            rules = [
                *_rules(OPERATOR, topic, CONTROL, literal, write, describe),
                *_acknowledgement_readers(OPERATOR),
                *_rules(OPERATOR, topic, DEAD_LETTERS, literal, read, describe),
                *_rules(OPERATOR, topic, OVERSIGHT_SIGNALS, literal, read, describe),
                # how far behind each stage is (`renkei hub lag`): offsets, not records
                *_rules(OPERATOR, topic, AGENCY_TOPIC_PREFIX, Pattern.PREFIXED, describe),
                *_rules(OPERATOR, topic, HUB_INTERNAL_PREFIX, Pattern.PREFIXED, describe),
                *_rules(OPERATOR, Resource.CLUSTER, "kafka-cluster", literal,
                        Operation.IDEMPOTENT_WRITE),
                *_own_namespace(OPERATOR, "renkei-operator"),
            ]  # fmt: skip
        case "ppc":
            rules = [
                *_rules(PPC, topic, PROVISION_RECORDS, literal, read, describe),
                *_rules(PPC, topic, DEAD_LETTERS, literal, read, describe),
                *_rules(PPC, topic, CONTROL, literal, read, write, describe),
                *_acknowledgement_readers(PPC),
                *_rules(PPC, topic, OVERSIGHT_SIGNALS, literal, read, write, describe),
                *_rules(PPC, Resource.CLUSTER, "kafka-cluster", literal,
                        Operation.IDEMPOTENT_WRITE),
                *_own_namespace(PPC, "renkei-ppc"),
            ]  # fmt: skip
        case _:
            raise NotAPrincipal(
                f"{principal!r} is not a service principal ({', '.join(SERVICE_PRINCIPALS)})"
            )
    return sorted(rules)


def rules_for(principal: str) -> list[AclRule]:
    """Every rule whose grantee is `principal` (for an agency: without the hub's rules on its
    topics, which belong to the hub's principal)."""
    if principal in SERVICE_PRINCIPALS:
        return service_rules(principal)
    return [r for r in agency_rules(principal) if r.principal == principal]
