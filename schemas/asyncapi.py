"""The AsyncAPI 3.0 document of the contract, generated from the schema files.

Channels are the topics of DOMAIN.md §4; each message's payload is its expanded Avro schema
(`schemaFormat: application/vnd.apache.avro+json;version=1.9.0`), with its single-object
fingerprint as `x-fingerprint`. The document is written from the agencies' side: an agency
sends on `agency.{agencyId}.out` and receives on `agency.{agencyId}.in`; the portal and the
oversight body receive provision records; operators send control messages and read dead letters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from schemas.registry import AVRO_DIR, SchemaSet, canonical_form, fingerprint, load_schema_set
from schemas.vocabulary import EventType

AVRO_SCHEMA_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
CONTENT_TYPE = "application/vnd.apache.avro"  # single-object encoding: C3 01, fingerprint, body
EVENTS = tuple(event.value for event in EventType)


@dataclass(frozen=True, slots=True)
class Channel:
    key: str
    address: str
    title: str
    description: str
    messages: tuple[str, ...]
    action: str  # what the reader of the document (an agency or operator) does: send/receive
    operation: str
    operation_summary: str


AGENCY_ID = (
    "Agency id (情報保有機関): mun-<5-digit local-government code>, nta, jps, mhlw-ei, "
    "hi-<code>, med-<code>, portal, ppc."
)
CHANNELS = (
    Channel(
        "agencyOut",
        "agency.{agencyId}.out",
        "Agency to hub",
        "Written by that agency only (Kafka ACL per agency principal), read by the hub: a "
        "message here is from the agency the topic names.",
        (
            *EVENTS,
            "Enrolment",
            "AttributeRequest",
            "AttributeAnswer",
            "Notice",
            "NoticeAcknowledged",
        ),
        "send",
        "sendToHub",
        "An agency publishes events, enrolments, attribute requests, answers and notices.",
    ),
    Channel(
        "agencyIn",
        "agency.{agencyId}.in",
        "Hub to agency",
        "Written by the hub only, read by that agency only. Fanned-out events carry the "
        "subscriber's own link codes.",
        (
            *EVENTS,
            "EnrolmentConfirmed",
            "AttributeQuery",
            "AttributeResponse",
            "RequestDenied",
            "ProviderTimeout",
            "Notice",
            "NoticeAcknowledged",
        ),
        "receive",
        "receiveFromHub",
        "An agency receives events it subscribed to, queries to answer, responses, denials "
        "and provider timeouts.",
    ),
    Channel(
        "provisionRecords",
        "renkei.provision-records",
        "Provision records (情報提供等記録)",
        "Written by the hub, read by the portal (マイ・ポータル) and the oversight body "
        "(第三者機関). One hash chain per partition.",
        ("ProvisionRecord",),
        "receive",
        "receiveProvisionRecords",
        "The portal and the oversight body read every provision and denial.",
    ),
    Channel(
        "deadLetters",
        "renkei.dead-letters",
        "Dead letters",
        "Written by the hub, read by operators: inputs the hub could not process, with reason, "
        "source position and original bytes.",
        ("DeadLetter",),
        "receive",
        "receiveDeadLetters",
        "Operators inspect rejected input.",
    ),
    Channel(
        "oversightSignals",
        "renkei.oversight.signals",
        "Oversight signals (第三者機関)",
        "Written by the oversight body (ppc) only, read by the oversight body and operators: "
        "anomaly signals naming an agency, a rule, a window and counts, never a person.",
        ("OversightSignal",),
        "receive",
        "receiveOversightSignals",
        "The oversight body and operators follow anomaly signals.",
    ),
    Channel(
        "control",
        "renkei.control",
        "Hub control",
        "Hub-internal control channel: rollout changes, legal-basis and trust table versions, "
        "agency suspensions, registrations and rate budgets. Written by operators and the "
        "oversight body (through the hub's tools), applied by every hub replica.",
        (
            "RolloutChange",
            "LegalBasisTablePublished",
            "TrustTablePublished",
            "AgencySuspension",
            "AgencyRegistered",
            "AgencyRetired",
            "RateBudgetSet",
        ),
        "send",
        "sendControl",
        "Operators and the oversight body steer the hub.",
    ),
    Channel(
        "controlAcknowledgements",
        "renkei.control.acks",
        "Control acknowledgements",
        "Written by the hub only, read by operators and the oversight body: each hub replica "
        "says, for every control record it reads after starting, whether it applied or refused "
        "it and why. The commands that publish control wait here for every live replica.",
        ("ControlAcknowledged",),
        "receive",
        "receiveControlAcknowledgements",
        "Operators and the oversight body learn which replicas applied a command.",
    ),
)


def _summary(doc: str) -> str:
    head, _, _ = doc.partition(": ")
    return head if len(head) < 80 else doc.split(". ")[0]


def contract_version(schemas: SchemaSet) -> str:
    """A short digest of every message's wire form: changes exactly when the wire changes."""
    digest = hashlib.sha256()
    for name in schemas.messages:
        digest.update(canonical_form(schemas.expanded(name)).encode("utf-8"))
    return digest.hexdigest()[:12]


def build(schemas: SchemaSet | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document as a JSON-ready dict."""
    schemas = schemas if schemas is not None else load_schema_set(AVRO_DIR)
    messages: dict[str, Any] = {}
    for name in schemas.messages:
        expanded = schemas.expanded(name)
        messages[name] = {
            "name": name,
            "title": name,
            "summary": _summary(expanded.get("doc", name)),
            "description": expanded.get("doc", ""),
            "contentType": CONTENT_TYPE,
            "payload": {"schemaFormat": AVRO_SCHEMA_FORMAT, "schema": expanded},
            "x-fingerprint": fingerprint(expanded).hex(),
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        body: dict[str, Any] = {
            "address": channel.address,
            "title": channel.title,
            "description": channel.description,
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in channel.messages},
        }
        if "{agencyId}" in channel.address:
            body["parameters"] = {"agencyId": {"description": AGENCY_ID}}
        channels[channel.key] = body
        operations[channel.operation] = {
            "action": channel.action,
            "channel": {"$ref": f"#/channels/{channel.key}"},
            "summary": channel.operation_summary,
            "messages": [
                {"$ref": f"#/channels/{channel.key}/messages/{m}"} for m in channel.messages
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Renkei wire contract",
            "version": contract_version(schemas),
            "description": (
                "Renkei (連携) links information between public-administration agencies "
                "person by person, on Apache Kafka. Every message is an Avro record in "
                "single-object encoding (C3 01, the 8-byte little-endian CRC-64-AVRO "
                "fingerprint of the writer schema, the binary body). Bulk collection "
                "(情報収集) and the four basic resident facts (住基4情報) do not pass "
                "through the hub. Generated from schemas/avro by `renkei schemas docs`."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
