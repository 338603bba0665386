"""The baseline of the hub benchmark: a raw transactional passthrough.

Consume -> produce -> commit offsets in one transaction, with the hub's own stage machinery
(same per-partition transactional producers, same batch size and linger), and no logic at all.

    python -m benchmarks.passthrough --bootstrap HOST:PORT --stage IN=OUT [--stage ...]

Each --stage is one stage (one consumer group, its own transactional producers), all in this
one process as the hub runs its stages. A stage's routes are comma-separated SOURCE=TARGET:
`IN=MID>NEXT` writes to MID and names NEXT in a header, `MID=*` writes to the topic that header
names. So two stages can take an exchange's four hops through one internal topic as the hub's
ingress and router do (requests and answers into the internal topic, queries and responses out
of it):  --stage 'req=mid>query,answer=mid>resp' --stage 'mid=*'.  SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub.stage import Output, Stage, StageConfig, Stateless

NEXT = "bench-next"


class Copy(Stateless):
    """Copies each record to its source's target (or the one its header names)."""

    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = {
            source: (target.partition(">")[0], target.partition(">")[2].encode())
            for source, target in routes.items()
        }

    def process(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[Output]:
        target, after = self.routes[partition.topic]
        if target == "*":
            return [Output(dict(r.headers)[NEXT].decode(), r.value, key=r.key) for r in records]
        headers = ((NEXT, after),) if after else ()
        return [Output(target, r.value, key=r.key, headers=headers) for r in records]


def parse_routes(spec: str) -> dict[str, str]:
    routes = dict(route.split("=", 1) for route in spec.split(",") if route)
    if not routes or not all(routes.values()):
        raise ValueError(f"stage {spec!r}: expected SOURCE=TARGET[,SOURCE=TARGET…]")
    return routes


async def main(
    bootstrap: str, stages: Sequence[dict[str, str]], group: str, batch_max: int, linger_ms: int
) -> None:
    running = [
        Stage(
            StageConfig(
                name=f"passthrough-{i}",
                bootstrap=bootstrap,
                group_id=f"{group}-{i}",
                topics=list(routes),
                batch_max=batch_max,
                linger_ms=linger_ms,
            ),
            Copy(routes),
        )
        for i, routes in enumerate(stages)
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for stage in running:
            stage.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(stage.run() for stage in running))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="renkei-bench-passthrough")
    parser.add_argument("--batch-max", type=int, default=500)
    parser.add_argument("--linger-ms", type=int, default=20)
    parser.add_argument("--stage", action="append", required=True, metavar="SOURCE=TARGET,…")
    a = parser.parse_args()
    try:
        specs = [parse_routes(s) for s in a.stage]
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(main(a.bootstrap, specs, a.group, a.batch_max, a.linger_ms))
