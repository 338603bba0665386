"""The one broker fixture every integration test uses.

Order: `KAFKA_BOOTSTRAP_SERVERS` if set (its credentials from RENKEI_KAFKA_*, see
producers/connection.py); otherwise a real local Apache Kafka started from Maven Central jars
(deploy/local/broker.py), secured as production is: SASL/SCRAM-SHA-512 over TLS, ACLs, one
super user; otherwise (or with RENKEI_TEST_BROKER=testcontainers), when a Docker engine
answers, testcontainers with the project's own Kafka image (tests/kafka_container.py), secured
the same way with the same CA and admin password, one container per hub test module (CI takes
this path: its Docker engine is there). The three-node tests start local jars on either path.
A missing broker fails the test run: integration tests are never skipped.

Every local cluster of the session shares one development CA and admin password
(`broker_security`), and the process environment holds the admin's RENKEI_KAFKA_* settings,
so code under test that reads its connection from configuration (the hub, the CLI, the SDK's
`Connection.from_environment`) connects as the admin. Tests of principals and ACLs
(tests/security) build connections for other principals explicitly.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.broker import KAFKA_VERSION, BrokerError, BrokerSecurity, KafkaCluster
from hub.control_signatures import generate_control_keys
from tests.brokers import (
    EXTERNAL,
    LOCAL_JARS,
    TESTCONTAINERS,
    BrokerInfo,
    container_broker,
    own_broker,
)

_info: BrokerInfo | None = None


def _docker_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _local_jars_can_run() -> bool:
    return shutil.which("java") is not None and (
        shutil.which("mvn") is not None
        or (Path(os.environ.get("RENKEI_CACHE", Path.home() / ".cache" / "renkei"))).exists()
    )


def _use_testcontainers() -> bool:
    """RENKEI_TEST_BROKER=testcontainers or =local chooses; by default the local jars, and
    testcontainers only where Java or Maven is missing but a Docker engine answers."""
    chosen = os.environ.get("RENKEI_TEST_BROKER")
    if chosen in ("testcontainers", "local"):
        return chosen == "testcontainers"
    return not _local_jars_can_run() and _docker_engine_answers()


@pytest.fixture(scope="session", autouse=True)
def broker_security() -> Iterator[BrokerSecurity]:
    """The CA and admin password of every local cluster in this session; the admin's settings
    are put in the environment (without an address: tests pass theirs)."""
    directory = Path(tempfile.mkdtemp(prefix="renkei-test-tls-"))
    security = BrokerSecurity.generate(directory)
    saved = {k: os.environ.get(k) for k in security.admin_environment("")}
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        for name, value in security.admin_environment("").items():
            if name != "RENKEI_KAFKA_BOOTSTRAP":
                os.environ[name] = value
    try:
        yield security
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def control_keys(broker_security: BrokerSecurity) -> Iterator[dict[str, str]]:
    """Development signing keys of the operators and the oversight body, named in the
    environment: the hubs under test trust them and `publish_control` signs with them."""
    directory = Path(tempfile.mkdtemp(prefix="renkei-test-control-"))
    settings = generate_control_keys(directory)
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield settings
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_broker(broker_security: BrokerSecurity) -> Iterator[BrokerInfo]:
    global _info
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        _info = BrokerInfo(env, EXTERNAL, "external", None)
        yield _info
        return
    if _use_testcontainers():
        with container_broker(broker_security, "integration tests") as (bootstrap, seconds):
            _info = BrokerInfo(bootstrap, TESTCONTAINERS, KAFKA_VERSION, seconds)
            yield _info
        return
    cluster = KafkaCluster(1, security=broker_security)
    try:
        cluster.start()
    except BrokerError as exc:
        pytest.fail(f"no Kafka broker for integration tests: {exc}", pytrace=False)
    _info = BrokerInfo(cluster.bootstrap, LOCAL_JARS, KAFKA_VERSION, cluster.startup_seconds)
    try:
        yield _info
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerInfo) -> str:
    return kafka_broker.bootstrap


@pytest.fixture(scope="module")
def isolated_kafka(kafka_broker: BrokerInfo, broker_security: BrokerSecurity) -> Iterator[str]:
    """A broker of this module's own, for tests of the hub, whose topic names are fixed by the
    contract (renkei.control, agency.<id>.in …) and whose state must not leak between modules.
    With KAFKA_BOOTSTRAP_SERVERS set there is only that broker, and it is shared."""
    with own_broker(kafka_broker, broker_security, "integration tests") as bootstrap:
        yield bootstrap


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
