"""Exactly-once through crashes and rebalances, shaped like Kafka's own EOS system test.

The hub runs as real processes (`renkei hub run`). It is killed with SIGKILL at random moments
while 10,000 requests flow; a second replica joins and leaves in the middle of another load.
Every request must end with exactly one outcome and exactly one provision record, the provider
must receive each routed query once, the hash chains must verify, and no log line of any hub
process may contain an individual number, a link code or an attribute value.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.workload import INCOME_BASE, Workload
from hub.cli import verify_chains
from hub.core import Keyring
from hub.core.keys import generate_key_set, parse_key_set

from .harness import advance_rollout, onboard

pytestmark = pytest.mark.kafka

REQUESTS = 10_000
KILLS = 5
UNMETERED = "1000000000/1000000000"  # exactly-once under kills is measured here, not budgets


class HubProcesses:
    """Hub replicas as child processes, each logging (JSON) to its own file."""

    def __init__(self, bootstrap: str, workdir: Path, document: dict[str, object]) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.keys_file = workdir / "keys.json"
        self.keys_file.write_text(json.dumps(document))
        self.keyring = Keyring.from_key_set(parse_key_set(document))
        self.logs: list[Path] = []
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.workdir / f"hub-{len(self.logs)}.log"
        self.logs.append(log)
        env = os.environ | {"RENKEI_KEYS_FILE": str(self.keys_file)}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "renkei", "hub", "run", "--bootstrap", self.bootstrap,
                 "--partitions", "3", "--replication", "1", "--session-timeout-ms", "6000",
                 "--budget", UNMETERED],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.running.remove(process)

    def terminate(self, process: subprocess.Popen[bytes], timeout: float = 60) -> int:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout)
        self.running.remove(process)
        return code

    def cleanup(self) -> None:
        for process in list(self.running):
            self.kill(process)

    async def processing(self, timeout: float = 60) -> None:
        """Wait until the newest replica owns router partitions (so a kill hits real work)."""
        log = self.logs[-1]
        for _ in range(int(timeout / 0.1)):
            text = log.read_text(errors="replace") if log.exists() else ""
            if any('"router"' in line and "partitions assigned" in line
                   for line in text.splitlines()):  # fmt: skip
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("the hub replica never got router partitions")

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs)


@pytest.fixture(scope="module")
def key_set() -> dict[str, object]:
    """One key set for the module's broker: every replica, in every test, is the same hub (its
    records are signed with the same key, so one verification covers all of them)."""
    return generate_key_set(os.urandom)


@pytest.fixture
def hubs(isolated_kafka: str, tmp_path: Path, key_set: dict[str, object]) -> Iterator[HubProcesses]:
    processes = HubProcesses(isolated_kafka, tmp_path, key_set)
    try:
        yield processes
    finally:
        processes.cleanup()


@pytest.fixture(scope="module")
async def onboarded(isolated_kafka: str) -> str:
    for agency in ("mun-27100", "mun-13101"):
        await onboard(isolated_kafka, agency)
    await advance_rollout(isolated_kafka, 1)
    return isolated_kafka


def assert_exactly_once(workload: Workload) -> dict[str, object]:
    summary = workload.summary()
    print("exactly-once summary:", json.dumps(summary))
    assert summary["with_one_outcome"] == summary["requests"], summary
    assert summary["with_one_record"] == summary["requests"], summary
    assert summary["queries_delivered_more_than_once"] == 0, summary
    assert summary["denials"] == {}, summary  # every request here is authorised
    return summary


def assert_no_personal_data_in(text: str, workload: Workload) -> None:
    assert text.count("\n") > 10, "the hub logged almost nothing: the scan would prove nothing"
    for number in workload.numbers:
        assert number not in text, "an individual number reached a log"
    for code in workload.codes:
        for form in (code.hex(), base64.b64encode(code).decode(), repr(code)[2:-1]):
            assert form not in text, "a link code reached a log"
    values = re.findall(r"(?<!\d)98765\d{4}(?!\d)", text)
    assert not [v for v in values if int(v) > INCOME_BASE], "an attribute value reached a log"


async def test_killing_the_hub_five_times_loses_and_duplicates_nothing(
    onboarded: str, hubs: HubProcesses
) -> None:
    rng = random.Random(2026)
    workload = Workload(onboarded, persons=100, hub_key=hubs.keyring.public_sealing_key)
    await workload.start()
    current = hubs.start()
    try:
        await workload.enrol_everyone()
        sending = asyncio.create_task(workload.send_requests(REQUESTS, rate=700))
        # A kill counts when the hub still owes outcomes: on a loaded machine the sender may
        # finish before the restarts do, but the hub is then still working through the backlog.
        kills_with_work_in_flight = 0
        for _ in range(KILLS):
            await hubs.processing()
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            kills_with_work_in_flight += not (sending.done() and workload.done())
            hubs.kill(current)
            current = hubs.start()
        await sending
        print(f"kills while outcomes were still owed: {kills_with_work_in_flight} of {KILLS}")
        assert kills_with_work_in_flight >= 3
        await workload.wait_done(timeout=300)
        await asyncio.sleep(2)  # anything duplicated would arrive now
    finally:
        await workload.stop()
    assert hubs.terminate(current) == 0
    summary = assert_exactly_once(workload)
    assert summary["requests"] == REQUESTS
    report = await verify_chains(onboarded, hubs.keyring.record_verify_keys)
    assert report.intact, report.first_break
    assert report.records >= REQUESTS
    assert_no_personal_data_in(hubs.log_text(), workload)


async def test_a_second_replica_joining_and_leaving_mid_load_loses_and_duplicates_nothing(
    onboarded: str, hubs: HubProcesses
) -> None:
    workload = Workload(onboarded, persons=60, hub_key=hubs.keyring.public_sealing_key)
    await workload.start()
    first = hubs.start()
    try:
        await workload.enrol_everyone()
        sending = asyncio.create_task(workload.send_requests(4_000, rate=800))
        await asyncio.sleep(1.5)
        second = hubs.start()  # rebalance: the partitions are shared
        await asyncio.sleep(2.5)
        assert hubs.terminate(first) == 0  # graceful leave: another rebalance
        await sending
        await workload.wait_done(timeout=240)
        await asyncio.sleep(2)
    finally:
        await workload.stop()
    assert hubs.terminate(second) == 0
    assert_exactly_once(workload)
    assert (await verify_chains(onboarded, hubs.keyring.record_verify_keys)).intact
    assert_no_personal_data_in(hubs.log_text(), workload)
