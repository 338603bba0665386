"""Prometheus metrics of the oversight body. Labels are rule names, agency ids and kinds of
observation: never a person, a code or a value."""

from __future__ import annotations

from prometheus_client import Counter

OBSERVATIONS = Counter(
    "renkei_oversight_observations_total", "Records the oversight body counted", ["kind"]
)
SIGNALS = Counter("renkei_oversight_signals_total", "Anomaly signals published", ["rule", "agency"])
