"""Running a benchmark command as a user does (`python -m benchmarks.…`) at a tiny size, so the
commands cannot rot; the figures are not checked against anything (never a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_benchmark(module: str, out: Path, *args: str, timeout: float = 540) -> dict[str, Any]:
    """Run `python -m benchmarks.<module> --out OUT ARGS…`; its results file, parsed. Fails
    with the command's own output if it exits non-zero."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--out", str(out), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return result
