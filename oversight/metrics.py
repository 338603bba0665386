"""Prometheus metrics of the oversight body. Labels are rule names, agency ids, reasons and
kinds of observation: never a person, a code or a value."""

from __future__ import annotations

from prometheus_client import Counter

from oversight.observations import Observation, Provision, Refusal

OBSERVATIONS = Counter(
    "renkei_oversight_observations_total", "Records the oversight body counted", ["kind"]
)
PROVISIONS = Counter(
    "renkei_oversight_provisions_total",
    "Provision records by requester and outcome (PROVIDED or the denial reason)",
    ["agency", "outcome"],
)
REFUSED = Counter(
    "renkei_oversight_refused_total",
    "Input the hub refused (dead letters), by the agency it came from and reason",
    ["agency", "reason"],
)
SIGNALS = Counter("renkei_oversight_signals_total", "Anomaly signals published", ["rule", "agency"])


def count(observation: Observation) -> None:
    OBSERVATIONS.labels(type(observation).__name__).inc()
    match observation:
        case Provision():
            PROVISIONS.labels(observation.requester, observation.reason or "PROVIDED").inc()
        case Refusal():
            REFUSED.labels(observation.agency or "-", observation.reason).inc()
