"""The compose smoke test: the deployment of deploy/compose/ on a real Docker engine.

    python -m deploy.smoke [--tag dev] [--persons 300]

Brings up the three brokers, runs the set-up (keys, hub topics, principals, agencies), two hub
replicas and a few reference agencies, which enrol their people through the hub. While they
do, one hub container and one broker container are killed (SIGKILL). Then it reads back from
Kafka, as the bootstrap admin through the published listeners: every enrolment record an agency
wrote has exactly one outcome (a confirmation or a denial) in its inbox (a request id written
twice, by a producer retry, is answered twice, from the record), nothing was dead-lettered,
and every hash chain of provision records is intact. It always takes the deployment down.
Prometheus and Grafana (profile `observability`) are public images that cannot be built here,
so they are left out. The images must exist (`deploy/docker/build-images`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPOSE_FILE = Path(__file__).resolve().parent / "compose" / "compose.yaml"
PROJECT = "renkei-smoke"
EXTERNAL = "127.0.0.1:19091,127.0.0.1:19092,127.0.0.1:19093"
AGENCIES = ("mun-13101", "mun-27100", "mun-01100", "jps")
HUB_PORTS = (19401, 19402)


class SmokeFailed(AssertionError):
    """The deployment did not keep an invariant (or did not come up)."""


@dataclass
class ReadBack:
    # agency -> request id -> how many Enrolment records carry it (a producer retry across a
    # broker failure may write one twice; the hub then answers the repeat from its record)
    sent: dict[str, Counter[Any]] = field(default_factory=dict)
    outcomes: dict[str, Counter[Any]] = field(default_factory=dict)  # agency -> id -> answers
    dead_letters: int = 0
    chains_intact: bool = False
    records: int = 0

    @property
    def answered(self) -> int:
        """Enrolment records that have their outcome (at most one outcome each)."""
        return sum(min(n, self.sent[a][i]) for a, c in self.outcomes.items() for i, n in c.items())

    @property
    def expected(self) -> int:
        return sum(s.total() for s in self.sent.values())

    @property
    def unmatched(self) -> int:
        """Request ids whose number of outcomes differs from their number of records."""
        return sum(1 for a, s in self.sent.items() for i, n in s.items()
                   if self.outcomes[a][i] != n)  # fmt: skip


def compose(*args: str, env: dict[str, str], check: bool = True) -> str:
    result = subprocess.run(
        ["docker-compose", "-p", PROJECT, "-f", str(COMPOSE_FILE), *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise SmokeFailed(f"docker-compose {' '.join(args)}: {result.stderr[-3000:]}")
    return result.stdout


def container(service: str) -> str:
    return f"{PROJECT}_{service}_1"


def wait_until(what: str, predicate: Any, timeout: float, every: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SmokeFailed(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(every)


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


async def read_back(agencies: tuple[str, ...], verify_keys: str) -> ReadBack:
    from hub.cli import read_dead_letters, read_topic, verify_chains
    from schemas.codec import decode
    from schemas.models import Enrolment, EnrolmentConfirmed, RequestDenied
    from schemas.provision_records import parse_verify_keys
    from schemas.topics import inbound, outbound

    seen = ReadBack()
    for agency in agencies:
        sent: Counter[Any] = Counter()
        outcomes: Counter[Any] = Counter()

        def on_out(
            _p: int, _o: int, value: bytes | None, _r: Any, sent: Counter[Any] = sent
        ) -> None:
            message = decode(value or b"")
            if isinstance(message, Enrolment):
                sent[message.request_id] += 1

        def on_in(
            _p: int, _o: int, value: bytes | None, _r: Any, got: Counter[Any] = outcomes
        ) -> None:
            message = decode(value or b"")
            if isinstance(message, EnrolmentConfirmed | RequestDenied):
                got[message.request_id] += 1

        await read_topic(EXTERNAL, outbound(agency), on_out)
        await read_topic(EXTERNAL, inbound(agency), on_in)
        seen.sent[agency] = sent
        seen.outcomes[agency] = Counter({k: v for k, v in outcomes.items() if k in sent})
    seen.dead_letters = len(await read_dead_letters(EXTERNAL))
    chains = await verify_chains(EXTERNAL, parse_verify_keys(verify_keys))
    seen.chains_intact, seen.records = chains.first_break is None, chains.records
    return seen


def run(tag: str, persons: int) -> dict[str, Any]:
    password = secrets.token_urlsafe(18)
    env = os.environ | {"RENKEI_ADMIN_PASSWORD": password, "RENKEI_TAG": tag,
                        "PERSONS": str(persons)}  # fmt: skip
    # The read-back connects as the bootstrap admin through the published listeners.
    os.environ.update({
        "RENKEI_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "RENKEI_KAFKA_SASL_MECHANISM":
        "SCRAM-SHA-512", "RENKEI_KAFKA_USERNAME": "admin", "RENKEI_KAFKA_PASSWORD": password,
    })  # fmt: skip
    os.environ.pop("RENKEI_KAFKA_CA_FILE", None)
    timings: dict[str, float] = {}
    began = time.monotonic()
    compose("down", "-v", "--remove-orphans", env=env, check=False)
    try:
        compose("up", "-d", "kafka-1", "kafka-2", "kafka-3", env=env)
        compose("up", "setup", env=env)  # waits for healthy brokers, runs to completion
        if "Exit 0" not in compose("ps", "setup", env=env):
            raise SmokeFailed("the set-up failed:\n" + compose("logs", "setup", env=env)[-3000:])
        timings["brokers_and_setup_s"] = time.monotonic() - began
        public = compose("run", "--rm", "--no-deps", "--entrypoint", "cat", "setup",
                         "/var/lib/renkei/credentials/hub-public.env", env=env)  # fmt: skip
        keys = next(line.partition("=")[2] for line in public.splitlines()
                    if line.startswith("RENKEI_RECORD_VERIFY_KEYS="))  # fmt: skip
        compose("up", "-d", "--no-deps", "hub-1", "hub-2", env=env)
        wait_until("both hub replicas ready", lambda: all(ready(p) for p in HUB_PORTS), 180)
        compose("run", "--rm", "--no-deps", "--entrypoint", "renkei", "setup", "hub", "rollout",
                "advance", env=env)  # fmt: skip
        timings["hubs_ready_s"] = time.monotonic() - began
        compose("up", "-d", "--no-deps", *AGENCIES, env=env)

        wait_until("the first enrolments answered",
                   lambda: asyncio.run(read_back(AGENCIES, keys)).answered >= 20, 180)  # fmt: skip
        subprocess.run(["docker", "kill", container("hub-2")], check=True, capture_output=True)
        subprocess.run(["docker", "kill", container("kafka-3")], check=True, capture_output=True)
        killed_at = time.monotonic()

        def enrolled(agency: str) -> bool:
            logs = subprocess.run(["docker", "logs", container(agency)], capture_output=True,
                                  text=True, check=False)  # fmt: skip
            return "agency.enrolled" in logs.stdout + logs.stderr

        def complete() -> bool:
            seen = asyncio.run(read_back(AGENCIES, keys))
            return seen.expected > 0 and seen.answered == seen.expected

        # Each agency says when it has sent all its enrolments (and had them answered); only
        # then is the read-back final.
        wait_until("every agency done enrolling", lambda: all(map(enrolled, AGENCIES)), 300)
        wait_until("every enrolment answered after the kills", complete, 120, every=5)
        timings["answered_after_kill_s"] = time.monotonic() - killed_at
        seen = asyncio.run(read_back(AGENCIES, keys))
        repeats = sum(n - 1 for s in seen.sent.values() for n in s.values())
        result: dict[str, Any] = {
            "enrolment_records": seen.expected,
            "of_them_repeats_of_a_request_id": repeats,
            "records_with_exactly_their_outcome": seen.answered,
            "request_ids_with_too_many_or_too_few_outcomes": seen.unmatched,
            "dead_letters": seen.dead_letters,
            "chains_intact": seen.chains_intact,
            "provision_records": seen.records,
            "timings": {k: round(v, 1) for k, v in timings.items()},
        }
        if seen.unmatched or seen.answered != seen.expected or seen.dead_letters:
            raise SmokeFailed(f"invariants broken: {result}")
        if not seen.chains_intact:
            raise SmokeFailed(f"a provision-record chain is broken: {result}")
        return result
    finally:
        compose("down", "-v", "--remove-orphans", env=env, check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.smoke", description=__doc__)
    parser.add_argument("--tag", default="dev", help="the images' tag (build-images TAG)")
    parser.add_argument("--persons", type=int, default=300, help="synthetic population size")
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection to the killed broker; the verdict is read back.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    began = time.monotonic()
    try:
        result = run(args.tag, args.persons)
    except SmokeFailed as exc:
        print(f"compose smoke test FAILED after {time.monotonic() - began:.0f} s: {exc}")
        sys.exit(1)
    print(f"compose smoke test passed in {time.monotonic() - began:.0f} s: {result}")


if __name__ == "__main__":
    main()
