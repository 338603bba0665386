"""A real Apache Kafka (KRaft) from Maven Central jars, without Docker.

`KafkaCluster` formats fresh storage, starts one combined broker+controller (or three, for
failover tests) on free 127.0.0.1 ports, waits until the broker port accepts *and* a metadata
request answers, and stops the JVMs (SIGTERM, then SIGKILL) leaving no process or temp dir.

By default the cluster is secured as production is (DOMAIN.md §4): clients connect with
SASL/SCRAM-SHA-512 over TLS, the StandardAuthorizer refuses whatever no ACL allows, and the
only super user is the bootstrap admin, whose SCRAM credential is written at format time.
Nodes talk to each other as that admin: over SCRAM on the client listener (replication), and
over mutual TLS on the loopback-only controller listener, where the node's certificate
(`CN=admin`, from the development CA in `certificates.py`) maps to the admin principal —
KRaft cannot authenticate the controller listener with SCRAM, whose credentials live in the
very metadata that listener serves. `secured=False` gives the old plaintext broker.

The jars are fetched once by Maven (`deploy/local/pom.xml`) into a cache outside the
repository (`$RENKEI_CACHE`, default `~/.cache/renkei`) and reused afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.certificates import DevelopmentCertificates, issue_development_certificates

KAFKA_VERSION = "4.1.1"
CLUSTER_ID = "UmVua2VpTG9jYWxLYWZrYQ"  # fixed 22-char base64 id; storage is fresh every run
_HERE = Path(__file__).resolve().parent
_POM = _HERE / "pom.xml"
_LOG4J = _HERE / "log4j2.properties"


class BrokerError(RuntimeError):
    """The local broker could not be fetched, formatted or started (infrastructure failure)."""


def cache_dir() -> Path:
    return Path(os.environ.get("RENKEI_CACHE", Path.home() / ".cache" / "renkei"))


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_dir() / f"kafka-{version}" / "libs"


def fetch_jars(version: str = KAFKA_VERSION) -> Path:
    """Download the broker jars with Maven once; later calls reuse the cache."""
    libs = libs_dir(version)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise BrokerError(
            "Maven (mvn) is not on PATH; install Java 17 and Maven, or set "
            "KAFKA_BOOTSTRAP_SERVERS to use another broker"
        )
    libs.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn",
        "-B",
        "-q",
        "-f",
        str(_POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
        f"-Dkafka.version={version}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrokerError(
            f"Maven could not fetch Kafka {version}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise BrokerError(f"Maven ran but no kafka_2.13 jar is in {libs}")
    marker.write_text(version)
    return libs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Node:
    node_id: int
    broker_port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    # A second client listener, advertised at another address (a proxy's) instead of its own.
    proxied_port: int | None = None
    proxied_address: str | None = None

    def __post_init__(self) -> None:
        self.log_path = self.directory / "broker.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"


SCRAM_MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"


@dataclass(frozen=True)
class BrokerSecurity:
    """The secrets of one secured local cluster (or of every cluster of a test session): the
    development CA and broker certificate, and the bootstrap admin's password."""

    certificates: DevelopmentCertificates
    admin_password: str = field(repr=False)

    @classmethod
    def generate(cls, directory: Path) -> BrokerSecurity:
        return cls(issue_development_certificates(directory), secrets.token_urlsafe(24))

    def admin_environment(self, bootstrap: str) -> dict[str, str]:
        """The RENKEI_KAFKA_* settings with which a client connects as the bootstrap admin."""
        return {
            "RENKEI_KAFKA_BOOTSTRAP": bootstrap,
            "RENKEI_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "RENKEI_KAFKA_SASL_MECHANISM": SCRAM_MECHANISM,
            "RENKEI_KAFKA_USERNAME": ADMIN,
            "RENKEI_KAFKA_PASSWORD": self.admin_password,
            "RENKEI_KAFKA_CA_FILE": str(self.certificates.ca_file),
        }


def _jaas(username: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


def _listeners(node: _Node, client: str, protocol: str, controller: str) -> dict[str, str]:
    """The client listener (named `client`), the controller's, and where a proxy stands in
    front of the node, the PROXIED listener that advertises the proxy's address: a client that
    bootstraps through the proxy is told to connect to the proxy again, never around it, while
    the node's own traffic (replication, transaction markers) keeps the direct listener."""
    listeners = [f"{client}://127.0.0.1:{node.broker_port}"]
    advertised = [f"{client}://127.0.0.1:{node.broker_port}"]
    protocols = [f"{client}:{protocol}", f"CONTROLLER:{controller}"]
    if node.proxied_port is not None and node.proxied_address is not None:
        listeners.append(f"PROXIED://127.0.0.1:{node.proxied_port}")
        advertised.append(f"PROXIED://{node.proxied_address}")
        protocols.append(f"PROXIED:{protocol}")
    return {
        "listeners": ",".join([*listeners, f"CONTROLLER://127.0.0.1:{node.controller_port}"]),
        "advertised.listeners": ",".join(advertised),
        "listener.security.protocol.map": ",".join(protocols),
        "inter.broker.listener.name": client,
    }


def _security_properties(node: _Node, security: BrokerSecurity) -> dict[str, str]:
    tls = security.certificates
    proxied = {}
    if node.proxied_port is not None:
        proxied["listener.name.proxied.scram-sha-512.sasl.jaas.config"] = _jaas(
            ADMIN, security.admin_password
        )
    return {
        **_listeners(node, "CLIENT", "SASL_SSL", "SSL"),
        **proxied,
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        "listener.name.client.scram-sha-512.sasl.jaas.config": _jaas(
            ADMIN, security.admin_password
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.broker_keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca_file),
        "ssl.endpoint.identification.algorithm": "https",
        # mutual TLS on the controller listener only; the certificate's CN names the principal
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),O=.*$/$1/,RULE:^O=[^,]+,CN=([^,]+)$/$1/"
        ",DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
    }


def _server_properties(
    node: _Node, voters: str, replicas: int, security: BrokerSecurity | None
) -> str:
    min_isr = 2 if replicas >= 3 else 1
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        **_listeners(node, "PLAINTEXT", "PLAINTEXT", "PLAINTEXT"),
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(node.directory / "data"),
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.cleaner.dedupe.buffer.size": "16777216",
        # Transactions of crashed producers must not block read_committed readers for long.
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": "5000",
    }
    if replicas >= 3:
        lines["broker.heartbeat.interval.ms"] = "500"
        lines["broker.session.timeout.ms"] = "3000"
    if security is not None:
        lines.update(_security_properties(node, security))
    return "".join(f"{k}={v}\n" for k, v in lines.items())


class KafkaCluster:
    """One (default) or three KRaft nodes in combined mode on 127.0.0.1.

    Use as a context manager, or call `start()` / `stop()`. `startup_seconds` is the time from
    launching the JVMs to the broker answering a metadata request. Secured unless
    `secured=False`; `security` shares one CA and admin password between clusters (tests),
    otherwise each cluster generates its own into its temporary directory.

    `advertise_through="HOST:PORT"` (one node only) opens a second client listener,
    `proxied_listener`, and advertises HOST:PORT for it: put a TCP proxy there forwarding to
    `proxied_listener`, and clients that bootstrap at HOST:PORT reach the broker through the
    proxy only (fault tests cut it); `bootstrap` stays the direct listener.
    """

    def __init__(
        self,
        nodes: int = 1,
        *,
        version: str = KAFKA_VERSION,
        heap_mb: int | None = None,
        base_dir: Path | None = None,
        secured: bool = True,
        security: BrokerSecurity | None = None,
        advertise_through: str | None = None,
    ) -> None:
        if nodes not in (1, 3):
            raise ValueError("a local cluster has 1 or 3 nodes")
        if advertise_through is not None and nodes != 1:
            raise ValueError("advertise_through needs a single node (one proxy, one listener)")
        self.version = version
        self.heap_mb = heap_mb or (512 if nodes == 1 else 384)
        self._own_dir = base_dir is None
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="renkei-kafka-"))
        self.nodes = [
            _Node(i + 1, free_port(), free_port(), self.base_dir / f"n{i + 1}")
            for i in range(nodes)
        ]
        if advertise_through is not None:
            self.nodes[0].proxied_port = free_port()
            self.nodes[0].proxied_address = advertise_through
        self.startup_seconds: float | None = None
        if secured and security is None:
            security = BrokerSecurity.generate(self.base_dir / "tls")
        self.security = security if secured else None

    def admin_environment(self) -> dict[str, str]:
        """RENKEI_KAFKA_* for the bootstrap admin (a plain cluster: just the address)."""
        if self.security is None:
            return {"RENKEI_KAFKA_BOOTSTRAP": self.bootstrap,
                    "RENKEI_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}  # fmt: skip
        return self.security.admin_environment(self.bootstrap)

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes if n.process is not None) or ",".join(
            n.bootstrap for n in self.nodes
        )

    @property
    def proxied_listener(self) -> tuple[str, int]:
        """Where the proxy in front of the node forwards to (with `advertise_through`)."""
        port = self.nodes[0].proxied_port
        if port is None:
            raise ValueError("this cluster was started without advertise_through")
        return "127.0.0.1", port

    def _classpath(self) -> str:
        return str(fetch_jars(self.version)) + "/*"

    def _java(self, *args: str, heap: str) -> list[str]:
        return [
            "java",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_LOG4J}",
            "-cp",
            self._classpath(),
            *args,
        ]

    def start(self, timeout: float = 90.0) -> KafkaCluster:
        if shutil.which("java") is None:
            raise BrokerError("java is not on PATH; Kafka needs Java 17")
        fetch_jars(self.version)
        replicas = len(self.nodes)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            props = node.directory / "server.properties"
            props.write_text(_server_properties(node, voters, replicas, self.security))
            scram = (
                []
                if self.security is None
                else [
                    "--add-scram",
                    f"{SCRAM_MECHANISM}=[name={ADMIN},password={self.security.admin_password}]",
                ]
            )
            fmt = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    CLUSTER_ID,
                    "-c",
                    str(props),
                    *scram,
                    heap="256m",
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"formatting KRaft storage failed: {fmt.stdout}{fmt.stderr}")
        began = time.monotonic()
        # All JVMs start before waiting for any: a node blocks until a controller majority is up.
        for node in self.nodes:
            self._launch(node)
        try:
            for node in self.nodes:
                self._wait_ready(node, began + timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _launch(self, node: _Node) -> None:
        log = node.log_path.open("ab")
        node.process = subprocess.Popen(
            self._java(
                "kafka.Kafka", str(node.directory / "server.properties"), heap=f"{self.heap_mb}m"
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _wait_ready(self, node: _Node, deadline: float) -> None:
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                tail = node.log_path.read_text(errors="replace")[-3000:]
                raise BrokerError(f"Kafka node {node.node_id} exited early:\n{tail}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", node.broker_port), timeout=0.5),
            ):
                if _metadata_answers(node.bootstrap, self.security):
                    return
            time.sleep(0.2)
        raise BrokerError(f"Kafka node {node.node_id} was not ready in time; see {node.log_path}")

    def kill(self, node_index: int) -> None:
        """SIGKILL one node: a crash, for failover tests."""
        node = self.nodes[node_index]
        if node.process is not None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait()
            node.process = None

    def restart(self, node_index: int, timeout: float = 90.0) -> None:
        node = self.nodes[node_index]
        self._launch(node)
        self._wait_ready(node, time.monotonic() + timeout)

    def stop(self, grace: float = 20.0) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait()
            node.process = None
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _metadata_answers(bootstrap: str, security: BrokerSecurity | None) -> bool:
    """A metadata request answers with at least one broker (aiokafka, in a private loop)."""

    async def probe() -> bool:
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.helpers import create_ssl_context

        options: dict[str, object] = {}
        if security is not None:
            options = {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": SCRAM_MECHANISM,
                "sasl_plain_username": ADMIN,
                "sasl_plain_password": security.admin_password,
                "ssl_context": create_ssl_context(cafile=str(security.certificates.ca_file)),
            }
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **options)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return bool(cluster.get("brokers"))
        finally:
            await admin.close()

    try:
        return asyncio.run(asyncio.wait_for(probe(), timeout=5))
    except Exception:  # not ready yet: any failure means "ask again"
        return False


@contextlib.contextmanager
def local_kafka(nodes: int = 1, *, secured: bool = True) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(nodes, secured=secured)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
