"""Benchmark of the hub's decision core: decisions per second on one core with a 1,000-row
legal-basis table and 1,000,000 persons in state, and the memory each person's state takes.

    python -m benchmarks.decision [--persons N] [--decisions N] [--out FILE]

Beside it in the same run, the baseline of the target (issue 15: the decision core at least 2 ×
the codec's decode rate of the same request, so deciding is never the bottleneck): the codec's
decodes per second of the very requests decided. The cryptography around a decision (decrypting
the person's code, and for a route the provider's code and the reply token) is the shell's, done
outside `decide`; it is timed on its own and reported beside it, with decide and crypto together.
Writes results/decision.json. A command, not a timed test: the figures are for the record.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import resource
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import machine, now_iso, ratio
from hub.core.decision import decide
from hub.core.keyring import Keyring
from hub.core.keys import generate_key_set, parse_key_set
from hub.core.legal_basis import LegalBasisTable, default_table_text, parse_table
from hub.core.outcomes import Route
from hub.core.rollout import Rollout, apply_rollout_change, initial_rollout
from hub.core.state import (
    EventRecord,
    HubState,
    PersonRecord,
    RatePolicy,
    record_decision,
    register_agency,
    sys_intern,
)
from schemas.codec import decode, encode
from schemas.models import AttributeRequest, Metadata
from schemas.vocabulary import EventType, Sector, agency_kind

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
MUNICIPALITIES = [f"mun-{13101 + i:05d}" for i in range(200)]
NON_SENSITIVE = [
    "taxable_income",
    "dependants_count",
    "resident_tax_amount",
    "household_members",
    "pension_benefit_amount",
    "disability_grade",
]


def thousand_row_table() -> LegalBasisTable:
    """The shipped rows plus synthetic municipality-to-municipality rows up to 1,000."""
    document = json.loads(default_table_text())
    rng = random.Random(1)
    sectors = [s.value for s in Sector if s is not Sector.MEDICAL]
    for i in range(1000 - len(document["rows"])):
        document["rows"].append(
            {
                "id": f"bench-{i:04d}",
                "requester_kind": "municipality",
                "purpose": f"bench_purpose_{i:04d}",
                "sector": rng.choice(sectors),
                "provider_kind": "municipality",
                "attributes": rng.sample(NON_SENSITIVE, 3),
                "triggers": ["ApplicationReceived"],
                "window_days": 90,
                "consent": False,
                "citation": "synthetic row for the benchmark",
            }
        )
    return parse_table(json.dumps(document))


def live_rollout() -> Rollout:
    rollout = initial_rollout()
    for _ in range(4):
        advanced = apply_rollout_change(rollout, "ADVANCE", None, None)
        assert isinstance(advanced, Rollout)
        rollout = advanced
    return rollout


def person_record(rng: random.Random, home: str, other: str, at: int) -> PersonRecord:
    """A typical person: held by two municipalities, one recent application, a number."""
    event = EventRecord(
        rng.randbytes(16),
        EventType.APPLICATION_RECEIVED,
        at,
        home,
        (home,),
        None,
        "child_allowance",
    )
    return PersonRecord(holders=(home, other), events=(event,), number_index=rng.randbytes(16))


def fill_state(state: HubState, persons: int, rng: random.Random) -> list[bytes]:
    at = int((NOW - timedelta(days=3)).timestamp())
    ids = []
    for i in range(persons):
        person_id = rng.randbytes(16)
        home = MUNICIPALITIES[i % len(MUNICIPALITIES)]
        other = MUNICIPALITIES[(i + 1) % len(MUNICIPALITIES)]
        record = person_record(rng, home, other, at)
        state.persons[person_id] = record
        assert record.number_index is not None
        state.numbers[record.number_index] = person_id
        ids.append(person_id)
    return ids


def memory_per_person(sample: int) -> float:
    """Bytes of state per person (record, its dict entries, blind index entry), traced."""
    gc.collect()
    state = HubState()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fill_state(state, sample, random.Random(3))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # the person-id list that fill_state returns is benchmark scaffolding, not state
    return (after - before - sys.getsizeof([0] * sample)) / sample


def rss_bytes() -> int:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return pages * resource.getpagesize()


def requests_for(
    state: HubState,
    keys: Keyring,
    table: LegalBasisTable,
    ids: list[bytes],
    count: int,
    rng: random.Random,
) -> list[AttributeRequest]:
    row = table.rows["we-01"]
    requests = []
    for person_id in rng.sample(ids, count):
        record = state.persons[person_id]
        home, other = record.holders
        requests.append(
            AttributeRequest(
                metadata=Metadata(message_id=uuid.uuid4(), occurred_at=NOW, sender=home),
                request_id=uuid.uuid4(),
                person_code=keys.codes.encode(home, person_id),
                provider=other,
                purpose=row.purpose,
                legal_basis_row=row.id,
                attributes=["taxable_income", "household_members"],
                trigger_event_id=uuid.UUID(bytes=record.events[0].event_id),
            )
        )
    return requests


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--distinct-requests", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("results/decision.json"))
    args = parser.parse_args(argv)

    table = thousand_row_table()
    rollout = live_rollout()
    keys = Keyring.from_key_set(parse_key_set(generate_key_set(random.Random(2).randbytes)))
    per_person = memory_per_person(min(100_000, args.persons))

    rng = random.Random(4)
    state = HubState(rate_policy=RatePolicy(capacity=1e12, per_second=1e9))
    for agency in MUNICIPALITIES:
        register_agency(state, sys_intern(agency), agency_kind(agency), "1", [])
    gc.collect()
    rss_before = rss_bytes()
    started = time.perf_counter()
    ids = fill_state(state, args.persons, rng)
    fill_seconds = time.perf_counter() - started
    rss_after = rss_bytes()
    requests = requests_for(state, keys, table, ids, args.distinct_requests, rng)
    now = NOW

    # what the shell hands decide(): the person's id, decrypted from the code
    codes = keys.codes
    persons = [codes.decode(r.metadata.sender, r.person_code) for r in requests]
    for request, person in zip(requests, persons, strict=True):
        assert isinstance(decide(request, person, None, state, table, rollout, now), Route)
    gc.collect()
    gc.freeze()
    n = args.decisions
    loops, rest = divmod(n, len(requests))
    batch = list(zip(requests, persons, strict=True)) * loops
    batch += list(zip(requests[:rest], persons[:rest], strict=True))
    started = time.perf_counter()
    routed = 0
    for request, person in batch:
        routed += isinstance(decide(request, person, None, state, table, rollout, now), Route)
    decide_seconds = time.perf_counter() - started
    assert routed == n, f"only {routed} of {n} routed"

    # the shell's cryptography per routed request: the code decrypted, the route sealed
    crypto_items = []
    for request, person in zip(requests, persons, strict=True):
        route = decide(request, person, None, state, table, rollout, now)
        assert isinstance(route, Route)
        crypto_items.append((request, route))
    crypto_rounds = max(1, n // (4 * len(crypto_items)))
    started = time.perf_counter()
    for _ in range(crypto_rounds):
        for request, route in crypto_items:
            codes.decode(request.metadata.sender, request.person_code)
            keys.seal_route(route)
    crypto_seconds = time.perf_counter() - started
    crypto_count = crypto_rounds * len(crypto_items)

    # decide() followed by record_decision(), as the shell does (idempotency + rate budget);
    # fresh request ids so every request is decided, not answered from the record
    fresh = [r.model_copy(update={"request_id": uuid.uuid4()}) for r in requests]
    started = time.perf_counter()
    for request, person in zip(fresh, persons, strict=True):
        decision = decide(request, person, None, state, table, rollout, now)
        record_decision(state, request.metadata.sender, request.request_id, decision, now)
    recorded_seconds = time.perf_counter() - started

    # the baseline: the codec decoding the same requests, on the same core, in the same run
    encoded = [encode(r) for r in requests]
    gc.collect()
    started = time.perf_counter()
    for data in encoded * max(1, n // len(encoded)):
        decode(data)
    decodes = len(encoded) * max(1, n // len(encoded))
    decode_seconds = time.perf_counter() - started
    decisions_per_second = n / decide_seconds
    decodes_per_second = decodes / decode_seconds
    crypto_us = crypto_seconds / crypto_count * 1e6
    decide_and_crypto_per_second = 1e6 / (decide_seconds / n * 1e6 + crypto_us)

    result = {
        "benchmark": "hub decision core",
        "when": now_iso(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "host": machine(),
        "table_rows": len(table.rows),
        "persons_in_state": len(state.persons),
        "decisions": n,
        "decisions_per_second": round(decisions_per_second),
        "codec_decodes_per_second_same_requests": round(decodes_per_second),
        "shell_crypto_microseconds_per_route": round(crypto_us, 2),
        "decide_and_crypto_per_second": round(decide_and_crypto_per_second),
        "ratios": {
            "decisions_to_codec_decodes": ratio(decisions_per_second, decodes_per_second),
            "decide_and_crypto_to_codec_decodes": ratio(
                decide_and_crypto_per_second, decodes_per_second
            ),
        },
        "target_decisions_to_codec_decodes": 2.0,
        "microseconds_per_decision": round(decide_seconds / n * 1e6, 2),
        "decide_and_record_per_second": round(len(fresh) / recorded_seconds),
        "memory_per_person_bytes_tracemalloc": round(per_person),
        "memory_per_person_bytes_rss_delta": round((rss_after - rss_before) / args.persons),
        "state_fill_seconds": round(fill_seconds, 1),
        "person_shape": "2 holders, 1 trigger event, blind-index entry, no consents/proxies",
        "target_decisions_per_second": 100_000,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
