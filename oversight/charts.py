"""Charts for the oversight pages, drawn on the server as SVG (no script, no build step).

Pure functions from counts to markup. Every text in a chart is an agency id, a reason code, a
time or a number, escaped; a chart never shows a person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

from oversight.observations import Observation, Provision

# Colour-blind-safe palette (Okabe–Ito), cycled.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MINUTE, HOUR, DAY = 60, 3_600, 86_400
KEEP_MINUTES_S = 3 * HOUR  # minute counts are kept for the most recent three hours only


@dataclass
class Volume:
    """Requests per agency over time: per minute recently, per hour always (pure)."""

    minutes: dict[tuple[str, int], int] = field(default_factory=dict)
    hours: dict[tuple[str, int], int] = field(default_factory=dict)
    latest: int = 0
    earliest: int | None = None

    def add(self, observation: Observation) -> None:
        if not isinstance(observation, Provision) or observation.disclosure:
            return
        t = int(observation.at.timestamp())
        agency = observation.requester
        self.earliest = t if self.earliest is None else min(self.earliest, t)
        hour = (agency, t // HOUR * HOUR)
        self.hours[hour] = self.hours.get(hour, 0) + 1
        if t > self.latest:
            self.latest = t
            if len(self.minutes) > 50_000:
                horizon = t - KEEP_MINUTES_S
                self.minutes = {k: v for k, v in self.minutes.items() if k[1] >= horizon}
        if t >= self.latest - KEEP_MINUTES_S:
            minute = (agency, t // MINUTE * MINUTE)
            self.minutes[minute] = self.minutes.get(minute, 0) + 1

    def series(self) -> tuple[int, dict[str, list[tuple[int, int]]]]:
        """(bucket seconds, per agency the (bucket start, requests) in time order), with the
        finest buckets that cover what was seen: minutes up to two hours, hours up to three
        days, days beyond."""
        if self.earliest is None:
            return MINUTE, {}
        span = self.latest - self.earliest
        if span <= 2 * HOUR and self.earliest >= self.latest - KEEP_MINUTES_S:
            bucket, source = MINUTE, self.minutes
        elif span <= 3 * DAY:
            bucket, source = HOUR, self.hours
        else:
            bucket, source = DAY, {}
            for (agency, hour), n in self.hours.items():
                key = (agency, hour // DAY * DAY)
                source[key] = source.get(key, 0) + n
        first = self.earliest // bucket * bucket
        last = self.latest // bucket * bucket
        agencies = sorted({agency for agency, _ in source})
        return bucket, {
            a: [(t, source.get((a, t), 0)) for t in range(first, last + bucket, bucket)]
            for a in agencies
        }


def _label(t: int, bucket: int) -> str:
    at = datetime.fromtimestamp(t, UTC)
    return at.strftime("%m-%d" if bucket >= DAY else "%m-%d %H:%M")


def volume_chart(bucket: int, series: Mapping[str, Sequence[tuple[int, int]]]) -> str:
    """A line per agency: requests per bucket over time."""
    width, height, left, right, top, bottom = 720, 300, 48, 150, 16, 40
    if not series:
        return _empty(width, "no requests yet")
    points = max(len(s) for s in series.values())
    peak = max((n for s in series.values() for _, n in s), default=0) or 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (points - 1) if points > 1 else plot_w / 2)

    def y(n: int) -> float:
        return top + plot_h - plot_h * n / peak

    unit = {MINUTE: "minute", HOUR: "hour", DAY: "day"}.get(bucket, f"{bucket} s")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="requests per {unit} and agency" class="chart">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#666"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#666"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{left}" y="{height - 8}" font-size="11">requests per {unit} (UTC)</text>',
    ]
    first = next(iter(series.values()))
    for i in sorted({0, points // 2, points - 1}):
        if i < len(first):
            out.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'font-size="11">{escape(_label(first[i][0], bucket))}</text>'
            )
    for k, (agency, values) in enumerate(sorted(series.items())):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{x(i):.1f},{y(n):.1f}" for i, (_, n) in enumerate(values))
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
            f"<title>{escape(agency)}: {sum(n for _, n in values)} requests</title></polyline>"
        )
        ly = top + 12 + 16 * k
        out.append(
            f'<rect x="{width - right + 10}" y="{ly - 9}" width="10" height="10" '
            f'fill="{colour}"/><text x="{width - right + 26}" y="{ly}" font-size="12">'
            f"{escape(agency)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def denial_chart(mix: Mapping[str, Counter[str]]) -> str:
    """A stacked horizontal bar per agency: its denials by reason."""
    if not mix:
        return _empty(720, "no denials")
    reasons = sorted({r for c in mix.values() for r in c})
    colour = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}
    agencies = sorted(mix)
    bar, gap, left, width = 18, 8, 110, 720
    legend_h = 18 * ((len(reasons) + 2) // 3)
    height = 10 + len(agencies) * (bar + gap) + legend_h + 10
    longest = max(sum(c.values()) for c in mix.values()) or 1
    plot_w = width - left - 60
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="denials by reason and agency" class="chart">'
    ]
    for row, agency in enumerate(agencies):
        y0 = 10 + row * (bar + gap)
        out.append(
            f'<text x="{left - 6}" y="{y0 + 13}" text-anchor="end" font-size="12">'
            f"{escape(agency)}</text>"
        )
        x0 = float(left)
        for reason in reasons:
            n = mix[agency].get(reason, 0)
            if not n:
                continue
            w = plot_w * n / longest
            out.append(
                f'<rect x="{x0:.1f}" y="{y0}" width="{w:.1f}" height="{bar}" '
                f'fill="{colour[reason]}"><title>{escape(agency)} {escape(reason)}: {n}'
                "</title></rect>"
            )
            x0 += w
        out.append(
            f'<text x="{x0 + 4:.1f}" y="{y0 + 13}" font-size="11">'
            f"{sum(mix[agency].values())}</text>"
        )
    base = 10 + len(agencies) * (bar + gap) + 6
    for i, reason in enumerate(reasons):
        lx, ly = 10 + 235 * (i % 3), base + 18 * (i // 3)
        out.append(
            f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour[reason]}"/>'
            f'<text x="{lx + 16}" y="{ly + 9}" font-size="11">{escape(reason)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _empty(width: int, text: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 40" role="img" '
        f'aria-label="{escape(text)}" class="chart"><text x="10" y="24" font-size="13">'
        f"{escape(text)}</text></svg>"
    )
