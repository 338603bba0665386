"""The baseline of the hub benchmark: a raw transactional passthrough.

Consume -> produce -> commit offsets in one transaction, with the hub's own stage machinery
(same per-partition transactional producers, same batch size and linger), and no logic at all.
Run as `python -m benchmarks.passthrough --bootstrap HOST:PORT IN OUT`; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub.stage import Output, Stage, StageConfig, Stateless


class Copy(Stateless):
    def __init__(self, out: str) -> None:
        self.out = out

    def process(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[Output]:
        return [Output(self.out, r.value, key=r.key) for r in records]


async def main(bootstrap: str, source: str, target: str, batch_max: int, linger_ms: int) -> None:
    stage = Stage(
        StageConfig(
            name="passthrough",
            bootstrap=bootstrap,
            group_id="renkei-bench-passthrough",
            topics=[source],
            batch_max=batch_max,
            linger_ms=linger_ms,
        ),
        Copy(target),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stage.stop)
    await stage.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--batch-max", type=int, default=500)
    parser.add_argument("--linger-ms", type=int, default=20)
    parser.add_argument("source")
    parser.add_argument("target")
    a = parser.parse_args()
    asyncio.run(main(a.bootstrap, a.source, a.target, a.batch_max, a.linger_ms))
