"""A fresh broker of a test module's or package's own (the hub's topic names are fixed by the
contract, so hub state must not leak between them), of the same kind as the session's broker:
a local node from the jars, or a container of the project's Kafka image; shared by the
conftest files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from deploy.local.broker import BrokerError, BrokerSecurity, KafkaCluster

LOCAL_JARS = "local jars, SASL_SSL"
TESTCONTAINERS = "testcontainers (the project's Kafka image, SASL_SSL)"
EXTERNAL = "KAFKA_BOOTSTRAP_SERVERS"


@dataclass
class BrokerInfo:
    bootstrap: str
    origin: str  # LOCAL_JARS, TESTCONTAINERS or EXTERNAL
    version: str
    startup_seconds: float | None

    @property
    def secured_here(self) -> bool:
        """Started by the tests, secured with the session's CA and admin (not an external one)."""
        return self.origin in (LOCAL_JARS, TESTCONTAINERS)


@contextlib.contextmanager
def container_broker(security: BrokerSecurity, purpose: str) -> Iterator[tuple[str, float]]:
    """A fresh secured broker in a container, removed afterwards (bootstrap, seconds to ready);
    one that cannot start fails the test run (never a skip)."""
    from .kafka_container import project_kafka

    with contextlib.ExitStack() as stack:
        try:
            bootstrap, seconds = stack.enter_context(project_kafka(security))
        except Exception as exc:  # engine, image or broker start-up: say which, never skip
            pytest.fail(f"no Kafka container for {purpose}: {exc}", pytrace=False)
        yield bootstrap, seconds


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


@contextlib.contextmanager
def own_broker(session: BrokerInfo, security: BrokerSecurity, purpose: str) -> Iterator[str]:
    """A broker of its own, of the session broker's kind; with KAFKA_BOOTSTRAP_SERVERS set
    there is only that broker, and it is shared."""
    if session.origin == TESTCONTAINERS:
        with container_broker(security, purpose) as (bootstrap, _seconds):
            yield bootstrap
    elif session.origin == LOCAL_JARS:
        with own_local_broker(security, purpose) as bootstrap:
            yield bootstrap
    else:
        yield session.bootstrap
