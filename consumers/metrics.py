"""Prometheus metrics of the agency SDK. Labels are agency ids, streams, message types and
reasons: never a person, a code or a value."""

from __future__ import annotations

from prometheus_client import Counter

SEQUENCE_GAPS = Counter(
    "renkei_agency_sequence_gaps_total",
    "Jumps in the hub's per-stream delivery sequence seen by an agency",
    ["agency", "stream"],
)
MISSING_MESSAGES = Counter(
    "renkei_agency_missing_messages_total",
    "Messages the hub's sequence numbers say an agency never received",
    ["agency", "stream"],
)
UNDECODABLE = Counter(
    "renkei_agency_undecodable_total",
    "Inbound records an agency could not decode, by codec reason",
    ["agency", "reason"],
)
HANDLED = Counter(
    "renkei_agency_messages_handled_total",
    "Inbound messages handled and committed, by message type",
    ["agency", "message_type"],
)
REFUSED = Counter(
    "renkei_agency_inbound_refused_total",
    "Inbound messages an agency refused (not from the hub, or an outcome of no request it sent)",
    ["agency", "reason"],
)
