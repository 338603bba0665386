"""The local launcher leaves nothing behind and refuses what it cannot do, clearly."""

from __future__ import annotations

import os

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
