"""`renkei demo`: the small-start rollout played end to end on a real broker.

    result = await run_demo(bootstrap, DemoConfig(persons=1000, rate=200, duration=5))
    result.report        # per phase: requests, provided, denied by reason and sector, latency

`scenario` is the script (what each phase plays and what each request should get), `readback`
reads what actually happened from Kafka, `report` counts and writes it, `progress` shows it live.
"""

from renkei.demo.readback import Observed, read_back
from renkei.demo.report import Report, build_report, markdown, phase_table, summary_lines
from renkei.demo.run import DemoConfig, DemoResult, run_demo
from renkei.demo.scenario import Expectation, Scenario, Tracker

__all__ = [
    "DemoConfig",
    "DemoResult",
    "Expectation",
    "Observed",
    "Report",
    "Scenario",
    "Tracker",
    "build_report",
    "markdown",
    "phase_table",
    "read_back",
    "run_demo",
    "summary_lines",
]
