"""A single-node Kafka in a container of the project's own image (deploy/docker/kafka.Dockerfile)
started by testcontainers: no image is pulled (the reaper is disabled, so the fixture itself
removes the container), on a free 127.0.0.1 port, secured exactly as the local broker of
deploy/local/broker.py: SASL/SCRAM-SHA-512 over TLS for clients and between brokers, mutual TLS
on the controller listener (the certificate's CN=admin), the StandardAuthorizer refusing what
no ACL allows, and the bootstrap admin as the only super user. The session's development CA,
broker certificate and admin password (`BrokerSecurity`) are copied into the container, so the
tests' RENKEI_KAFKA_* settings are the same whichever broker they run on."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from deploy.local.broker import ADMIN, SCRAM_MECHANISM, BrokerSecurity, free_port

IMAGE_ENV = "RENKEI_KAFKA_IMAGE"
DEFAULT_IMAGE = "renkei-kafka:dev"
_TLS = "/opt/kafka/tls"


def _jaas(username: str | None = None, password: str | None = None) -> str:
    credentials = "" if username is None else f' username="{username}" password="{password}"'
    return f"org.apache.kafka.common.security.scram.ScramLoginModule required{credentials};"


def broker_properties(port: int, security: BrokerSecurity) -> dict[str, str]:
    """The server properties of one secured combined node whose client listener the host
    reaches at 127.0.0.1:`port`; inside the container the node talks to itself on localhost."""
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": "1@localhost:9093",
        "listeners": "CLIENT://0.0.0.0:9094,INTERNAL://localhost:9092,CONTROLLER://localhost:9093",
        "advertised.listeners": f"CLIENT://127.0.0.1:{port},INTERNAL://localhost:9092",
        "listener.security.protocol.map": "CLIENT:SASL_SSL,INTERNAL:SASL_SSL,CONTROLLER:SSL",
        "inter.broker.listener.name": "INTERNAL",
        "controller.listener.names": "CONTROLLER",
        "sasl.enabled.mechanisms": SCRAM_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
        "listener.name.internal.scram-sha-512.sasl.jaas.config": _jaas(
            ADMIN, security.admin_password
        ),
        "listener.name.client.scram-sha-512.sasl.jaas.config": _jaas(),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": f"{_TLS}/broker-keystore.pem",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": f"{_TLS}/ca.pem",
        "ssl.endpoint.identification.algorithm": "https",
        "listener.name.controller.ssl.client.auth": "required",
        # as deploy/local/broker.py: the certificate's CN is the principal (CN=admin)
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),O=.*$/$1/,RULE:^O=[^,]+,CN=([^,]+)$/$1/"
        ",DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
        "log.dirs": "/var/lib/kafka/data",
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "3",
        "group.initial.rebalance.delay.ms": "0",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": "5000",
    }


def image_environment(properties: dict[str, str]) -> dict[str, str]:
    """The image's KAFKA_CFG_* form of server properties ('.' -> '_', '-' -> '__')."""
    return {
        "KAFKA_CFG_" + name.upper().replace("-", "__").replace(".", "_"): value
        for name, value in properties.items()
    }


@contextlib.contextmanager
def project_kafka(security: BrokerSecurity) -> Iterator[tuple[str, float]]:
    """Yield (bootstrap, seconds to ready) of a fresh secured broker; remove it afterwards."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its image cannot be pulled
    import docker  # type: ignore[import-untyped]
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    image = os.environ.get(IMAGE_ENV, DEFAULT_IMAGE)
    try:
        docker.from_env().images.get(image)
    except docker.errors.ImageNotFound as exc:
        raise RuntimeError(f"no image {image}: build it with deploy/docker/build-images") from exc
    port = free_port()
    settings = image_environment(broker_properties(port, security)) | {
        "KAFKA_CLUSTER_ID": "UmVua2VpVGVzdEthZmthMQ",
        "KAFKA_HEAP": "384m",
        "KAFKA_FORMAT_ARGS": f"--add-scram '{SCRAM_MECHANISM}=[name={ADMIN},"
        f"password={security.admin_password}]'",
    }
    tls = security.certificates
    container = (
        DockerContainer(image, env=settings)
        .with_copy_into_container(tls.ca_file, f"{_TLS}/ca.pem", 0o444)
        # readable by the image's kafka user; the container is this broker's own host
        .with_copy_into_container(tls.broker_keystore, f"{_TLS}/broker-keystore.pem", 0o444)
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    )
    container.ports["9094/tcp"] = ("127.0.0.1", port)  # loopback only (docker-py's form)
    began = time.monotonic()
    try:
        container.start()
        yield f"127.0.0.1:{port}", time.monotonic() - began
    finally:
        container.stop()
