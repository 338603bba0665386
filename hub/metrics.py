"""Prometheus metrics of the hub. Labels are stage names, reasons and agency ids: never a
person, a code or a value."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS_IN = Counter("renkei_records_in_total", "Records consumed and committed", ["stage"])
RECORDS_OUT = Counter("renkei_records_out_total", "Records produced and committed", ["stage"])
TRANSACTIONS = Counter(
    "renkei_transactions_total", "Stage transactions by result", ["stage", "result"]
)
COMMIT_SECONDS = Histogram(
    "renkei_transaction_commit_seconds",
    "Time from begin to committed for one stage transaction",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ASSIGNED_PARTITIONS = Gauge(
    "renkei_assigned_partitions", "Input partitions this replica owns", ["stage"]
)
CONSUMER_LAG = Gauge(
    "renkei_consumer_lag", "Committed records not yet processed", ["stage", "partition"]
)
OUTCOMES = Counter(
    "renkei_outcomes_total",
    "Request outcomes: routed, provided, or denied with a reason",
    ["outcome", "reason"],
)
DEAD_LETTERS = Counter("renkei_dead_letters_total", "Messages dead-lettered by reason", ["reason"])
REFUSED_ASSERTIONS = Counter(
    "renkei_refused_assertions_total",
    "Facts that did not count (not entitled, future-dated, suspended), by publishing agency",
    ["agency", "reason"],
)
METERED_REQUESTS = Counter(
    "renkei_metered_requests_total",
    "Requests counted against an agency's rate budget (routed, or denied UNKNOWN_CODE or "
    "MALFORMED) and requests refused for want of it (RATE_LIMITED), by requesting agency",
    ["agency", "outcome"],
)
DUPLICATES = Counter(
    "renkei_duplicate_requests_total", "Requests whose id was already decided (not re-executed)"
)
POISON_PILLS = Counter(
    "renkei_poison_pills_total",
    "Records dead-lettered as INTERNAL because the hub's code failed on them, by exception type",
    ["error"],
)
ROLLOUT_PHASE = Gauge(
    "renkei_rollout_phase", "The rollout phase this replica applies (0: nothing live yet)"
)
CONTROL_REFUSED = Counter(
    "renkei_control_refused_total",
    "Control records refused: unsigned, wrongly signed, malformed, not a command, by a rule",
    ["reason"],
)
CONTROL_READER_RESTARTS = Counter(
    "renkei_control_reader_restarts_total", "Times the control reader reconnected after a failure"
)
