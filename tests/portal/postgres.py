"""A throwaway PostgreSQL cluster for tests: Debian's server binaries, initdb and pg_ctl, a free
loopback port, gone when the test session ends. initdb refuses to run as root, so as root the
cluster runs as the `postgres` system user (the package creates it)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """The machine has no PostgreSQL server binaries (apt-get install postgresql)."""


def server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresUnavailable("no /usr/lib/postgresql/*/bin/initdb: install postgresql")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield a postgresql:// URL of a fresh cluster (superuser `portal`, database postgres)."""
    bin_dir = server_binaries()
    as_root = os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="renkei-pg-"))
    data = directory / "data"
    if as_root:
        shutil.chown(directory, "postgres", "postgres")

    def run(*command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    port = _free_port()
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "portal",
            "--no-sync", "-E", "UTF8")  # fmt: skip
        options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
            str(directory / "log"), "-w", "-t", "60", "start")  # fmt: skip
        try:
            yield f"postgresql://portal@127.0.0.1:{port}/postgres"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
