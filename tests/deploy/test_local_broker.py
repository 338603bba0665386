"""The local launcher leaves nothing behind and refuses what it cannot do, clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.local.broker import KafkaCluster


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone if /proc says so.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.kafka
def test_stopping_the_local_broker_leaves_no_process_and_no_directory() -> None:
    cluster = KafkaCluster(1)
    cluster.start()
    process = cluster.nodes[0].process
    assert process is not None
    pid = process.pid
    assert _alive(pid)
    assert cluster.base_dir.exists()
    cluster.stop()
    assert not _alive(pid)
    assert not cluster.base_dir.exists()


def test_a_cluster_has_one_or_three_nodes() -> None:
    with pytest.raises(ValueError, match="1 or 3 nodes"):
        KafkaCluster(2)


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append((int(entry), command))
    return found


@pytest.mark.kafka
def test_sigterm_to_broker_run_stops_its_java_broker_and_removes_its_storage() -> None:
    env = os.environ | {"COLUMNS": "200"}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "renkei", "broker", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        assert launcher.stdout is not None
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = launcher.stdout.readline().decode(errors="replace")
            seen.append(line)
            if "ready at" in line or not line:
                break
        assert any("ready at" in line for line in seen), "".join(seen)
        brokers = [(pid, cmd) for pid, cmd in _children(launcher.pid) if "kafka.Kafka" in cmd]
        assert len(brokers) == 1, brokers
        broker_pid, command = brokers[0]
        properties = Path(command.split()[-1])
        storage = properties.parent.parent
        assert storage.name.startswith("renkei-kafka-")
        assert storage.exists()

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
        assert not _alive(broker_pid)
        assert not storage.exists()
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
