"""The demo's report: per-phase counts and latencies, the invariants and the audit, all from
what was read back from Kafka (`readback.Observed`); written as JSON and Markdown.

The report names agencies, rows, sectors, reasons and the scripted cases; it holds no number,
no link code and no attribute value.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from renkei.demo.readback import Observed
from renkei.demo.scenario import CONFIRMED, PROVIDED, Expectation
from renkei.measures import completion_rate, percentile

Report = dict[str, Any]
NO_ROW = "no row"  # a denial decided before a legal-basis row was found (e.g. UNKNOWN_CODE)


def _observed(observed: Observed, request_id: Any) -> str:
    outcomes = observed.outcomes.get(request_id, [])
    if len(outcomes) == 1:
        return outcomes[0].outcome
    return "NO_OUTCOME" if not outcomes else "SEVERAL_OUTCOMES"


def _phase_row(observed: Observed, phase: int, name: str) -> dict[str, Any]:
    requests = denied = provided = confirmed = 0
    reasons: Counter[str] = Counter()
    enrol_refused: Counter[str] = Counter()
    sectors: dict[str, Counter[str]] = {}
    latencies: list[int] = []
    first: int | None = None
    last: int | None = None
    for rid, sent in observed.requests.items():
        if observed.phase_of(sent.at_ms) != phase:
            continue
        outcomes = observed.outcomes.get(rid, [])
        outcome = outcomes[0] if outcomes else None
        first = sent.at_ms if first is None else min(first, sent.at_ms)
        if outcome is not None:
            last = outcome.at_ms if last is None else max(last, outcome.at_ms)
        if sent.kind == "enrolment":
            if outcome is not None and outcome.outcome == CONFIRMED:
                confirmed += 1
            elif outcome is not None:
                enrol_refused[outcome.outcome] += 1
            continue
        requests += 1
        if outcome is None:
            continue
        latencies.append(outcome.at_ms - sent.at_ms)
        if outcome.outcome == PROVIDED:
            provided += 1
        else:
            denied += 1
            reasons[outcome.outcome] += 1
        for record in observed.records.get(rid, [])[:1]:
            by = sectors.setdefault(record.sector or NO_ROW, Counter())
            by["provided" if record.outcome == PROVIDED else "denied"] += 1
    seconds = (last - first) / 1000 if first is not None and last is not None else 0.0
    return {
        "phase": phase,
        "name": name,
        "requests": requests,
        "provided": provided,
        "denied": denied,
        "denied_by_reason": dict(sorted(reasons.items())),
        "by_sector": {s: dict(c) for s, c in sorted(sectors.items())},
        "enrolments": {
            "confirmed": confirmed,
            "denied": sum(enrol_refused.values()),
            "denied_by_reason": dict(sorted(enrol_refused.items())),
        },
        "latency_ms": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)},
        "seconds": round(seconds, 3),
        "throughput_per_s": round(requests / seconds, 1) if seconds > 0 and requests else None,
    }


def _background_load(
    observed: Observed, expectations: Sequence[Expectation], phase: int, offered: float
) -> dict[str, Any] | None:
    """The phase's background load as Kafka saw it: the rate its requests were written at, and
    the rate their outcomes came out at (`completion_rate`: over the central 90 % of them; a
    hub that keeps up answers at the offered rate, one that falls behind answers more slowly
    all through)."""
    ids = [e.request_id for e in expectations if e.background and e.phase == phase]
    sent = [observed.requests[r].at_ms / 1000 for r in ids if r in observed.requests]
    answered = [o[0].at_ms / 1000 for r in ids if (o := observed.outcomes.get(r))]
    sent_rate, achieved = completion_rate(sent), completion_rate(answered)
    if offered <= 0 or sent_rate is None or achieved is None:
        return None
    first_to_last = completion_rate(answered, edge=0)
    return {
        "offered_per_s": offered,
        "requests": len(ids),
        "answered": len(answered),
        "sent_per_s": round(sent_rate, 1),
        "achieved_per_s": round(achieved, 1),
        "achieved_of_offered": round(achieved / offered, 3),
        # the whole span, first outcome to last: lower by the spread of the edges' latencies
        "first_to_last_per_s": None if first_to_last is None else round(first_to_last, 1),
    }


def _load(row: dict[str, Any]) -> str:
    load = row.get("background")
    if load is None:
        return "–"
    return f"{load['achieved_per_s']:.0f}/{load['offered_per_s']:g}"


def invariants(observed: Observed) -> dict[str, Any]:
    """The properties every run must have, counted from Kafka."""
    one_outcome = none = several = 0
    one_record = no_record = several_records = 0
    reached_provider = routed_without_query = 0
    for rid, sent in observed.requests.items():
        outcomes = observed.outcomes.get(rid, [])
        one_outcome += len(outcomes) == 1
        none += not outcomes
        several += len(outcomes) > 1
        if not outcomes:
            continue
        n_records = len(observed.records.get(rid, []))
        recorded = sent.kind == "attribute" or outcomes[0].outcome != CONFIRMED
        if recorded:  # an accepted enrolment is not a provision, so it has no record
            one_record += n_records == 1
            no_record += n_records == 0
            several_records += n_records > 1
        if sent.kind == "attribute":
            queried = observed.queries.get(sent.message_id, 0)
            if outcomes[0].outcome == PROVIDED:
                routed_without_query += queried != 1
            else:
                reached_provider += queried > 0
    requests = len(observed.requests)
    outcomes_recorded = one_record + no_record + several_records
    return {
        "requests": requests,
        "with_one_outcome": one_outcome,
        "without_outcome": none,
        "with_several_outcomes": several,
        "outcomes_needing_a_record": outcomes_recorded,
        "with_one_record": one_record,
        "without_record": no_record,
        "with_several_records": several_records,
        "denied_requests_that_reached_a_provider": reached_provider,
        "provided_requests_not_queried_exactly_once": routed_without_query,
        "ok": (
            one_outcome == requests
            and one_record == outcomes_recorded
            and reached_provider == 0
            and routed_without_query == 0
        ),
    }


def build_report(
    observed: Observed,
    expectations: Sequence[Expectation],
    phase_names: Sequence[str],
    run: dict[str, Any],
) -> Report:
    phases = [_phase_row(observed, k, name) for k, name in enumerate(phase_names)]
    for row in phases:
        row["background"] = _background_load(observed, expectations, row["phase"], run["rate"])
    totals = _totals(phases)
    mismatched = []
    matched = 0
    scripted = []
    for e in expectations:
        got = _observed(observed, e.request_id)
        matched += got == e.expected
        if got != e.expected:
            mismatched.append({"phase": e.phase, "case": e.case, "expected": e.expected,
                               "observed": got})  # fmt: skip
        if e.case is not None:
            scripted.append({"phase": e.phase, "case": e.case, "expected": e.expected,
                             "observed": got, "ok": got == e.expected})  # fmt: skip
    checks = invariants(observed)
    checks["expected_outcomes_matched"] = matched
    checks["expected_outcomes_mismatched"] = len(mismatched)
    checks["ok"] = checks["ok"] and not mismatched
    chain = observed.chain
    audit: dict[str, Any] = {
        "intact": chain.intact,
        "records": chain.records,
        "chains": chain.partitions,
        "first_break": None,
    }
    if chain.first_break is not None:
        b = chain.first_break
        audit["first_break"] = {"partition": b.partition, "offset": b.offset,
                                "sequence": b.sequence, "what": b.what}  # fmt: skip
    return {
        "run": run,
        "phases": phases,
        "totals": totals,
        "invariants": checks,
        "mismatches": mismatched[:50],
        "scripted": scripted,
        "notices": {
            "sent": observed.notices_sent,
            "delivered_to_portal": observed.notices_delivered,
            "confirmations_sent": observed.acknowledgements_sent,
            "confirmations_delivered_to_sender": observed.acknowledgements_delivered,
        },
        "dead_letters": observed.dead_letters,
        "audit": audit,
    }


def _totals(phases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    reasons: Counter[str] = Counter()
    sectors: dict[str, Counter[str]] = {}
    refused: Counter[str] = Counter()
    for p in phases:
        reasons.update(p["denied_by_reason"])
        refused.update(p["enrolments"]["denied_by_reason"])
        for sector, counts in p["by_sector"].items():
            sectors.setdefault(sector, Counter()).update(counts)
    return {
        "requests": sum(p["requests"] for p in phases),
        "provided": sum(p["provided"] for p in phases),
        "denied": sum(p["denied"] for p in phases),
        "denied_by_reason": dict(sorted(reasons.items())),
        "by_sector": {s: dict(c) for s, c in sorted(sectors.items())},
        "enrolments": {
            "confirmed": sum(p["enrolments"]["confirmed"] for p in phases),
            "denied": sum(p["enrolments"]["denied"] for p in phases),
            "denied_by_reason": dict(sorted(refused.items())),
        },
    }


# ---- rendering ----------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _reasons(row: dict[str, Any]) -> str:
    return ", ".join(f"{r} {n}" for r, n in row["denied_by_reason"].items()) or "–"


def _sectors(row: dict[str, Any]) -> str:
    parts = []
    for sector, counts in row["by_sector"].items():
        parts.append(f"{sector} {counts.get('provided', 0)}/{counts.get('denied', 0)}")
    return ", ".join(parts) or "–"


def _phase_label(row: dict[str, Any]) -> str:
    return f"{row['phase']} {row['name']}"


def _enrolled(row: dict[str, Any]) -> str:
    enrol = row["enrolments"]
    refused = ", ".join(f"{r} {n}" for r, n in enrol["denied_by_reason"].items())
    return f"{enrol['confirmed']}" + (f" (refused: {refused})" if refused else "")


def phase_table(report: Report) -> Table:
    """Per phase: enrolments, requests, outcomes, latency and throughput. Narrow enough for an
    80-column terminal: phases by number (their names in the caption), refused enrolments in
    the summary lines."""
    names = "\n".join(_phase_label(row) for row in report["phases"])
    table = Table(title="Renkei demo: the rollout, read back from Kafka", caption=names,
                  caption_justify="left")  # fmt: skip
    for column in ("phase", "enrolled", "requests", "provided", "denied", "p50 ms", "p99 ms",
                   "load/s"):  # fmt: skip
        table.add_column(column, justify="left" if column == "phase" else "right", no_wrap=True)
    for row in report["phases"]:
        table.add_row(
            str(row["phase"]),
            str(row["enrolments"]["confirmed"]),
            str(row["requests"]),
            str(row["provided"]),
            str(row["denied"]),
            _ms(row["latency_ms"]["p50"]),
            _ms(row["latency_ms"]["p99"]),
            _load(row),
        )
    t = report["totals"]
    table.add_row("all", str(t["enrolments"]["confirmed"]), str(t["requests"]),
                  str(t["provided"]), str(t["denied"]), "", "", "", style="bold")  # fmt: skip
    return table


def breakdown_tables(report: Report) -> tuple[Table, Table]:
    """Denials by reason and outcomes by sector, one column per phase (80 columns wide)."""
    phases = [row for row in report["phases"] if row["phase"] > 0]
    reasons = Table(title="denied by reason, per phase (attribute requests)")
    sectors = Table(title="provided/denied by sector, per phase")
    for table, first in ((reasons, "reason"), (sectors, "sector")):
        table.add_column(first, no_wrap=True)
        for row in phases:
            table.add_column(str(row["phase"]), justify="right", no_wrap=True)
        table.add_column("all", justify="right", style="bold", no_wrap=True)
    t = report["totals"]
    for reason, total in t["denied_by_reason"].items():
        cells = [str(row["denied_by_reason"].get(reason, "")) for row in phases]
        reasons.add_row(reason, *cells, str(total))
    for sector, total in t["by_sector"].items():
        cells = []
        for row in phases:
            c = row["by_sector"].get(sector)
            cells.append("" if c is None else f"{c.get('provided', 0)}/{c.get('denied', 0)}")
        sectors.add_row(sector, *cells, f"{total.get('provided', 0)}/{total.get('denied', 0)}")
    return reasons, sectors


def summary_lines(report: Report) -> list[str]:
    inv, audit, notices = report["invariants"], report["audit"], report["notices"]
    lines = [
        f"requests with exactly one outcome: {inv['with_one_outcome']}/{inv['requests']}; "
        f"outcomes with exactly one provision record: {inv['with_one_record']}/"
        f"{inv['outcomes_needing_a_record']}; denied requests that reached a provider: "
        f"{inv['denied_requests_that_reached_a_provider']}",
        f"expected outcomes: {inv['expected_outcomes_matched']} matched, "
        f"{inv['expected_outcomes_mismatched']} not",
        f"notices: {notices['sent']} sent, {notices['delivered_to_portal']} delivered to the "
        f"portal, {notices['confirmations_delivered_to_sender']} delivery confirmations back "
        "to the sender",
        f"dead letters: {report['dead_letters']}",
    ]
    refused = report["totals"]["enrolments"]["denied_by_reason"]
    if refused:
        lines.insert(2, "enrolments refused: "
                     + ", ".join(f"{r} {n}" for r, n in refused.items()))  # fmt: skip
    lines += oversight_lines(report)
    if audit["intact"]:
        lines.append(f"audit: intact — {audit['records']} provision records in "
                     f"{audit['chains']} hash chains")  # fmt: skip
    else:
        b = audit["first_break"]
        lines.append(f"audit: BROKEN at partition {b['partition']} offset {b['offset']}: "
                     f"{b['what']}")  # fmt: skip
    return lines


def _mix(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{outcome} {n}" for outcome, n in sorted(outcomes.items())) or "none"


def oversight_lines(report: Report) -> list[str]:
    """The oversight body's part: signals, false positives and, with --abuse, the abuse."""
    oversight = report.get("oversight")
    if oversight is None:
        return []
    lines = [
        f"oversight signals: {len(oversight['signals'])}; false positives (signals on an "
        f"agency that did not abuse): {oversight['false_positives']}"
    ]
    abuse = oversight.get("abuse")
    if abuse is not None:
        lines.append(
            f"abuse: {abuse['agency']} at night: {abuse['requests_before_suspension']} requests "
            f"({_mix(abuse['before_suspension_by_outcome'])}); signals: "
            f"{', '.join(abuse['rules_fired']) or 'none'}; suspended by "
            f"{abuse['suspended_by'] or 'nobody'}; after the suspension: "
            f"{abuse['requests_after_suspension']} requests "
            f"({_mix(abuse['after_suspension_by_outcome'])}); reinstated: "
            f"{'yes' if abuse['reinstated'] else 'no'}"
        )
    return lines


def markdown(report: Report) -> str:
    run = report["run"]
    out = [
        "# Renkei demo report",
        "",
        f"Seed {run['seed']}, {run['persons']} persons, background load {run['rate']:g}/s for "
        f"{run['duration']:g} s per phase; broker: {run['broker']}; wall time "
        f"{run['wall_seconds']:.1f} s. Every number below was read back from Kafka.",
        "",
        "| phase | enrolled | requests | provided | denied | denied by reason | "
        "by sector (provided/denied) | p50 ms | p99 ms | req/s | background achieved/offered |",
        "|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in report["phases"]:
        rate = "–" if row["throughput_per_s"] is None else f"{row['throughput_per_s']:.0f}"
        out.append(
            f"| {_phase_label(row)} | {_enrolled(row)} | {row['requests']} | "
            f"{row['provided']} | {row['denied']} | {_reasons(row)} | {_sectors(row)} | "
            f"{_ms(row['latency_ms']['p50'])} | {_ms(row['latency_ms']['p99'])} | {rate} | "
            f"{_load(row)} |"
        )
    t = report["totals"]
    out.append(f"| **all** | {_enrolled(t)} | {t['requests']} | {t['provided']} "
               f"| {t['denied']} | {_reasons(t)} | {_sectors(t)} | | | | |")  # fmt: skip
    out += ["", "## Invariants and audit", ""]
    out += [f"- {line}" for line in summary_lines(report)]
    out += ["", "## Scripted cases", "", "| phase | case | expected | observed |",
            "|---:|---|---|---|"]  # fmt: skip
    for case in report["scripted"]:
        mark = "" if case["ok"] else " **(unexpected)**"
        out.append(f"| {case['phase']} | {case['case']} | {case['expected']} | "
                   f"{case['observed']}{mark} |")  # fmt: skip
    signals = report.get("oversight", {}).get("signals", [])
    if signals:
        out += ["", "## Oversight signals", "",
                "| window start (UTC) | agency | rule | count | threshold | summary |",
                "|---|---|---|---:|---:|---|"]  # fmt: skip
        for s in signals:
            out.append(f"| {s['window_start']} | {s['agency']} | {s['rule']} | {s['count']} | "
                       f"{s['threshold']} | {s['summary']} |")  # fmt: skip
    return "\n".join(out) + "\n"


def write(report: Report, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    as_json, as_md = directory / "report.json", directory / "report.md"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    as_md.write_text(markdown(report), "utf-8")
    return as_json, as_md
