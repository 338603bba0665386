"""Soak (not part of the test suite): hub replicas as processes while a long stream of requests
flows, one replica SIGKILLed every 10-30 s and replaced; then the exactly-once invariants.

    python -m benchmarks.soak --requests 100000 --rate 400

Without `--bootstrap` it starts a local (secured) Kafka of its own and stops it at the end.
Prints one JSON line per kill and a summary; exits 1 if any request did not end in exactly one
outcome and one provision record, if a query reached its provider twice, or if the hash chains
do not verify.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.common import environment, fresh_broker, write_hub_keys
from benchmarks.workload import Workload
from hub.cli import verify_chains
from hub.control_signatures import generate_control_keys
from hub.onboarding import change_rollout, onboard_agency
from hub.topics import TopicLayout
from schemas.models import RolloutOperation

REPLICAS = 2


class Replicas:
    """Hub replicas as child processes, each logging to its own file."""

    def __init__(self, bootstrap: str, workdir: Path, partitions: int, replication: int) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.partitions = partitions
        self.replication = replication
        self.keys_file = workdir / "keys.json"
        self.keyring = write_hub_keys(self.keys_file)
        self.started = 0
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        log = self.workdir / f"hub-{self.started}.log"
        self.started += 1
        env = os.environ | {"RENKEI_KEYS_FILE": str(self.keys_file)}
        command = [
            *(sys.executable, "-m", "renkei", "hub", "run", "--bootstrap", self.bootstrap),
            *("--partitions", str(self.partitions), "--replication", str(self.replication)),
            *("--session-timeout-ms", "6000"),
            *("--budget", "1000000000/1000000000"),  # a soak at any --rate, never budget-bound
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.running.append(process)

    def kill_one(self, rng: random.Random) -> int:
        victim = self.running.pop(rng.randrange(len(self.running)))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        return victim.pid

    def stop_all(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running = []


async def soak(
    bootstrap: str, requests: int, rate: float, seed: int, workdir: Path, replication: int
) -> int:
    rng = random.Random(seed)
    for agency in ("mun-27100", "mun-13101"):
        await onboard_agency(
            bootstrap, agency, None, layout=TopicLayout(replication=replication), operator="op-soak"
        )
    await change_rollout(bootstrap, RolloutOperation.ADVANCE, times=1, operator="op-soak")
    replicas = Replicas(bootstrap, workdir, partitions=6, replication=replication)
    for _ in range(REPLICAS):
        replicas.start()
    workload = Workload(bootstrap, persons=500, hub_key=replicas.keyring.public_sealing_key)
    await workload.start()
    kills = 0
    began = time.monotonic()
    try:
        await workload.enrol_everyone(timeout=600)
        sending = asyncio.create_task(workload.send_requests(requests, rate=rate))
        while not (sending.done() and workload.done()):
            await asyncio.sleep(rng.uniform(10, 30))
            if sending.done() and workload.done():
                break
            pid = replicas.kill_one(rng)
            kills += 1
            replicas.start()
            print(json.dumps({"killed": pid, "kills": kills,
                              "seconds": round(time.monotonic() - began)}), flush=True)  # fmt: skip
        await sending
        await workload.wait_done(timeout=600)
        await asyncio.sleep(5)  # anything duplicated would arrive now
    finally:
        await workload.stop()
        replicas.stop_all()
    summary = workload.summary()
    report = await verify_chains(bootstrap, replicas.keyring.record_verify_keys)
    result = summary | {
        "replicas_killed": kills,
        "chains_intact": report.intact,
        "provision_records": report.records,
        "seconds": round(time.monotonic() - began),
    }
    print(json.dumps(result), flush=True)
    ok = (
        summary["with_one_outcome"] == requests
        and summary["with_one_record"] == requests
        and summary["queries_delivered_more_than_once"] == 0
        and report.intact
    )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="a running broker (default: start a local one)")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=400.0, help="requests per second")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--replication",
        type=int,
        help="of the hub's topics (default: 1 on the soak's own broker, else 3)",
    )
    args = parser.parse_args()
    replication = args.replication or (3 if args.bootstrap else 1)
    with ExitStack() as stack:
        if args.bootstrap is None:
            bootstrap, workdir = stack.enter_context(fresh_broker(prefix="renkei-soak-"))
        else:
            bootstrap = args.bootstrap
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="renkei-soak-")))
            if "RENKEI_OPERATOR_KEY_FILE" not in os.environ:
                # signed control, as in production: keys of the soak's own unless given
                stack.enter_context(environment(generate_control_keys(workdir)))
        code = asyncio.run(
            soak(bootstrap, args.requests, args.rate, args.seed, workdir, replication)
        )
    sys.exit(code)


if __name__ == "__main__":
    main()
