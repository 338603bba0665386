"""Memory benchmark: the resident size of a router holding N persons' state.

    python -m benchmarks.memory [--persons 1000000] [--partitions 6] [--decided N] [--out FILE]

Builds the router's real state structures — one `PartitionState` (the partition store's tables
over the core's `HubState`) per partition, sharing one `ControlState` — and fills them the way
a replica taking partitions over does: by restoring changelog records (`restore`), here made
from a typical person (held by two municipalities, one recent application, a blind-index
entry), plus `--decided` remembered request decisions (the idempotency window). Reports the
process's resident size (VmRSS from /proc/self/status) before and after, its peak (VmHWM),
bytes per person, and the restore rate. Target: a router with 1,000,000 persons ≤ 1 GiB.
Writes results/memory.json. This process is the router's stand-in: run it alone.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, machine, now_iso, write_results
from benchmarks.decision import MUNICIPALITIES, NOW, person_record
from hub.control import ControlState
from hub.core.state import Decided
from hub.partition_state import PartitionState, _decided_bytes, _decided_key

TARGET_BYTES = 1 << 30  # 1 GiB for 1,000,000 persons
REPLY_BYTES = 300


def status_bytes(field: str) -> int:
    """A `kB` line of /proc/self/status (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field} (Linux only)")


def fill(states: list[PartitionState], persons: int, decided: int, seed: int = 5) -> None:
    """Restore `persons` typical persons and `decided` request decisions across the
    partitions, as changelog records."""
    rng = random.Random(seed)
    at = int(NOW.timestamp()) - 3 * 86_400
    for i in range(persons):
        person_id = rng.randbytes(16)
        home = MUNICIPALITIES[i % len(MUNICIPALITIES)]
        other = MUNICIPALITIES[(i + 1) % len(MUNICIPALITIES)]
        record = person_record(rng, home, other, at)
        state = states[int.from_bytes(person_id[:4]) % len(states)]
        state.restore(b"p" + person_id, record.to_bytes())
        assert record.number_index is not None
        state.restore(b"n" + record.number_index, person_id)
    # a decided request keeps the reply its requester got (a response of about this size)
    answered = _decided_bytes(Decided(at, bytes(REPLY_BYTES)))
    for i in range(decided):
        requester = MUNICIPALITIES[i % len(MUNICIPALITIES)]
        key = _decided_key((requester, rng.getrandbits(128)))
        states[i % len(states)].restore(b"d" + key, answered)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--decided", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    a = parser.parse_args(argv)
    gc.collect()
    baseline = status_bytes("VmRSS")
    control = ControlState()
    states = [PartitionState(p, control, a.partitions) for p in range(a.partitions)]
    started = time.perf_counter()
    fill(states, a.persons, a.decided)
    seconds = time.perf_counter() - started
    gc.collect()
    rss = status_bytes("VmRSS")
    held = sum(len(s.persons) for s in states)
    per_person = (rss - baseline) / max(1, a.persons)
    projected = baseline + per_person * 1_000_000
    result = {
        "benchmark": "resident size of a router holding persons' state",
        "when": now_iso(),
        "machine": machine(),
        "persons": held,
        "partitions": a.partitions,
        "decided_requests": a.decided,
        "person_shape": "2 holders, 1 trigger event, blind-index entry, no consents/proxies",
        "rss_before_bytes": baseline,
        "rss_after_bytes": rss,
        "rss_peak_bytes": status_bytes("VmHWM"),
        "state_bytes_per_person": round(per_person),
        "rss_projected_for_1m_persons_bytes": round(projected),
        "restore_seconds": round(seconds, 1),
        "restored_persons_per_second": round(a.persons / seconds) if seconds else None,
        "target_rss_for_1m_persons_bytes": TARGET_BYTES,
        "rss_for_1m_to_target": round(projected / TARGET_BYTES, 3),
        "measured_at_1m": held >= 1_000_000,
    }
    write_results(a.out, result)
    mib = 1 << 20
    print(
        f"{held} persons in {a.partitions} partitions: RSS {rss / mib:.0f} MiB "
        f"(before {baseline / mib:.0f} MiB, peak {result['rss_peak_bytes'] / mib:.0f} MiB), "
        f"{per_person:.0f} B/person, restored at {result['restored_persons_per_second']}/s; "
        f"1M persons: {projected / mib:.0f} MiB "
        f"({'measured' if held >= 1_000_000 else 'projected'}; target ≤ 1024 MiB)"
    )
    print(f"written to {a.out}")
    return result


if __name__ == "__main__":
    main()
