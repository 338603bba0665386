"""The other client's baseline: a transactional passthrough on confluent-kafka (librdkafka).

Consume up to --batch-max records -> produce them -> send the consumer's offsets to the
transaction (KIP-447: one transactional producer for every partition the consumer holds) ->
commit. No logic at all; the hub's stages run on aiokafka, whose passthrough is
benchmarks.passthrough, so the two side by side show what the client itself costs.

    python -m benchmarks.passthrough_librdkafka --bootstrap HOST:PORT [--batch-max N] IN OUT

Credentials from RENKEI_KAFKA_* as every client here; SIGTERM stops it after the open
transaction.
"""

from __future__ import annotations

import argparse
import signal
import uuid
from types import FrameType

from confluent_kafka import Consumer, Producer

from hub.acl_admin import librdkafka_config
from producers.connection import Connection


def run(bootstrap: str, source: str, target: str, batch_max: int, linger_ms: int) -> None:
    config = librdkafka_config(Connection.from_environment(bootstrap))
    consumer = Consumer(config | {
        "group.id": "renkei-bench-librdkafka",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
    })  # fmt: skip
    producer = Producer(config | {
        "transactional.id": f"renkei-bench-librdkafka-{uuid.uuid4()}",
        "linger.ms": linger_ms,
        "queue.buffering.max.messages": max(100_000, 2 * batch_max),
    })  # fmt: skip
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    producer.init_transactions()
    consumer.subscribe([source])
    try:
        while not stopping:
            records = [m for m in consumer.consume(batch_max, timeout=0.1) if m.error() is None]
            if not records:
                continue
            producer.begin_transaction()
            for record in records:
                producer.produce(target, record.value(), record.key())
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
            )
            producer.commit_transaction()
    finally:
        consumer.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--batch-max", type=int, default=5000)
    parser.add_argument("--linger-ms", type=int, default=20)
    parser.add_argument("source")
    parser.add_argument("target")
    a = parser.parse_args()
    run(a.bootstrap, a.source, a.target, a.batch_max, a.linger_ms)
