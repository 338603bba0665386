"""A fresh local broker of a test module's or package's own (the hub's topic names are fixed by
the contract, so hub state must not leak between them); shared by the conftest files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from deploy.local.broker import BrokerError, BrokerSecurity, KafkaCluster


@contextlib.contextmanager
def own_local_broker(security: BrokerSecurity, purpose: str) -> Iterator[str]:
    """Start one secured local node, yield its bootstrap address, stop it; a broker that cannot
    start fails the test run (never a skip)."""
    cluster = KafkaCluster(1, security=security)
    try:
        cluster.start()
    except BrokerError as exc:
        pytest.fail(f"no Kafka broker for {purpose}: {exc}", pytrace=False)
    try:
        yield cluster.bootstrap
    finally:
        cluster.stop()
