"""The one broker fixture every integration test uses.

Order: `KAFKA_BOOTSTRAP_SERVERS` if set; otherwise testcontainers' Kafka (KRaft, transaction
log settings for one node) when a Docker engine answers; otherwise a real local Apache Kafka
started from Maven Central jars (deploy/local/broker.py). A missing broker fails the test run:
integration tests are never skipped.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from deploy.local.broker import KAFKA_VERSION, BrokerError, KafkaCluster


@dataclass
class BrokerInfo:
    bootstrap: str
    origin: str
    version: str
    startup_seconds: float | None


_info: BrokerInfo | None = None


def _docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[BrokerInfo]:
    global _info
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        _info = BrokerInfo(env, "KAFKA_BOOTSTRAP_SERVERS", "external", None)
        yield _info
        return
    if _docker_engine_answers():
        from testcontainers.community.kafka import KafkaContainer

        container = (
            KafkaContainer()
            .with_kraft()
            .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        )
        with container as kafka:
            _info = BrokerInfo(kafka.get_bootstrap_server(), "testcontainers", "cp-kafka", None)
            yield _info
        return
    cluster = KafkaCluster(1)
    try:
        cluster.start()
    except BrokerError as exc:
        pytest.fail(f"no Kafka broker for integration tests: {exc}", pytrace=False)
    _info = BrokerInfo(cluster.bootstrap, "local jars", KAFKA_VERSION, cluster.startup_seconds)
    try:
        yield _info
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerInfo) -> str:
    return kafka_broker.bootstrap


@pytest.fixture(scope="module")
def isolated_kafka(kafka_broker: BrokerInfo) -> Iterator[str]:
    """A broker of this module's own, for tests of the hub, whose topic names are fixed by the
    contract (renkei.control, agency.<id>.in …) and whose state must not leak between modules.
    With KAFKA_BOOTSTRAP_SERVERS set there is only that broker, and it is shared."""
    if kafka_broker.origin != "local jars":
        yield kafka_broker.bootstrap
        return
    cluster = KafkaCluster(1)
    try:
        cluster.start()
    except BrokerError as exc:
        pytest.fail(f"no Kafka broker for integration tests: {exc}", pytrace=False)
    try:
        yield cluster.bootstrap
    finally:
        cluster.stop()


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test (and this run)."""
    base = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name).strip("-")[:60]
    return f"t-{base}-{uuid.uuid4().hex[:8]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _info is None:
        return
    started = (
        f", start-to-ready {_info.startup_seconds:.2f} s"
        if _info.startup_seconds is not None
        else ""
    )
    terminalreporter.write_line(
        f"kafka: {_info.origin}, Apache Kafka {_info.version} at {_info.bootstrap}{started}"
    )
