"""A single-node Kafka in a container of the project's own image (deploy/docker/kafka.Dockerfile)
started by testcontainers: no image is pulled (the reaper is disabled, so the fixture itself
removes the container), plaintext, on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from deploy.local.broker import free_port

IMAGE_ENV = "RENKEI_KAFKA_IMAGE"
DEFAULT_IMAGE = "renkei-kafka:dev"


@contextlib.contextmanager
def project_kafka() -> Iterator[tuple[str, float]]:
    """Yield (bootstrap, seconds to ready) of a fresh broker; remove it afterwards."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its image cannot be pulled
    import docker  # type: ignore[import-untyped]
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    image = os.environ.get(IMAGE_ENV, DEFAULT_IMAGE)
    try:
        docker.from_env().images.get(image)
    except docker.errors.ImageNotFound as exc:
        raise RuntimeError(f"no image {image}: build it with deploy/docker/build-images") from exc
    port = free_port()
    settings = {
        "KAFKA_CLUSTER_ID": "UmVua2VpVGVzdEthZmthMQ",
        "KAFKA_HEAP": "384m",
        "KAFKA_CFG_PROCESS_ROLES": "broker,controller",
        "KAFKA_CFG_NODE_ID": "1",
        "KAFKA_CFG_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_CFG_LISTENERS": "INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094,"
        "CONTROLLER://localhost:9093",
        "KAFKA_CFG_ADVERTISED_LISTENERS": f"INTERNAL://localhost:9092,EXTERNAL://127.0.0.1:{port}",
        "KAFKA_CFG_LISTENER_SECURITY_PROTOCOL_MAP": "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,"
        "CONTROLLER:PLAINTEXT",
        "KAFKA_CFG_INTER_BROKER_LISTENER_NAME": "INTERNAL",
        "KAFKA_CFG_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CFG_LOG_DIRS": "/var/lib/kafka/data",
        "KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_CFG_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
        "KAFKA_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_CFG_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_CFG_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "3",
        "KAFKA_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_CFG_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS": "5000",
    }
    container = DockerContainer(image, env=settings)
    container.ports["9094/tcp"] = ("127.0.0.1", port)  # loopback only (docker-py's form)
    began = time.monotonic()
    container.start()
    try:
        wait_for_logs(container, "Kafka Server started", timeout=120, raise_on_exit=True)
        yield f"127.0.0.1:{port}", time.monotonic() - began
    finally:
        container.stop()
