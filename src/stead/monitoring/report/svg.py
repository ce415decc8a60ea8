"""Small inline SVG charts for the HTML report: lines over windows, paired bars, sparklines.

Hand-made on purpose: the report must open offline, from a file, years later, so it
carries no script and no library — each chart is a few dozen SVG elements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
COLORS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2"]
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', sans-serif\""


@dataclass(frozen=True)
class Series:
    """One line: a value per window (``None`` where there is none)."""

    name: str
    values: Sequence[float | None]
    color: str = COLORS[0]
    dashed: bool = False
    band: Sequence[tuple[float, float] | None] | None = None  # (low, high) per window
    markers: Sequence[bool] | None = None  # a red dot where True (e.g. flagged windows)


@dataclass(frozen=True)
class Rule:
    """A horizontal line: a threshold or a reference value."""

    value: float
    label: str
    color: str = "#dc2626"
    dashed: bool = True


@dataclass
class _Frame:
    width: int
    height: int
    left: int = 52
    right: int = 16
    top: int = 14
    bottom: int = 34
    low: float = 0.0
    high: float = 1.0
    count: int = 1
    parts: list[str] = field(default_factory=list)

    def x(self, i: int) -> float:
        span = self.width - self.left - self.right
        return self.left + (span * i / (self.count - 1) if self.count > 1 else span / 2)

    def y(self, v: float) -> float:
        span = self.height - self.top - self.bottom
        ratio = (v - self.low) / (self.high - self.low) if self.high > self.low else 0.5
        return self.top + span * (1 - ratio)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    rules: Sequence[Rule] = (),
    width: int = 760,
    height: int = 220,
    fmt: str = "{:.3g}",
    floor: float | None = None,
) -> str:
    """Lines over windows with optional uncertainty bands and threshold rules."""
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    values += [r.value for r in rules]
    for s in series:
        values += [b for pair in (s.band or []) if pair for b in pair if math.isfinite(b)]
    if not values or not labels:
        return _empty(width, 80, "no values yet")
    low, high = min(values), max(values)
    if floor is not None:
        low = min(low, floor)
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    bottom = low - pad if floor is None else max(low - pad, floor)
    frame = _Frame(width, height, low=bottom, high=high + pad, count=len(labels))
    ticks = [fmt.format(frame.low + (frame.high - frame.low) * k / 4) for k in range(5)]
    frame.left = max(frame.left, 12 + 6 * max(len(t) for t in ticks))  # room for the ticks
    _axes(frame, labels, fmt)
    for rule in rules:
        y = frame.y(rule.value)
        dash = ' stroke-dasharray="5 4"' if rule.dashed else ""
        frame.parts.append(
            f'<line x1="{frame.left}" x2="{width - frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{rule.color}" stroke-width="1.2"{dash}/>'
            f'<text x="{width - frame.right - 4}" y="{y - 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="{rule.color}" {FONT}>{escape(rule.label)}</text>'
        )
    for s in series:
        if s.band:
            frame.parts.append(_band(frame, s))
        frame.parts.append(_line(frame, s))
    legend = "".join(
        f'<tspan fill="{s.color}">■</tspan><tspan fill="{INK}"> {escape(s.name)}   </tspan>'
        for s in series
    )
    frame.parts.append(
        f'<text x="{frame.left}" y="{height - 4}" font-size="11" {FONT}>{legend}</text>'
    )
    return _svg(frame)


def paired_bars(
    categories: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    width: int = 360,
    height: int = 170,
    names: tuple[str, str] = ("training", "latest window"),
) -> str:
    """Reference against current shares per bin or level (two bars each)."""
    if not categories:
        return _empty(width, 60, "no distribution")
    top = max([*reference, *current, 1e-9])
    frame = _Frame(width, height, left=34, bottom=40, low=0.0, high=top * 1.1, count=1)
    inner = width - frame.left - frame.right
    slot = inner / len(categories)
    bar = max(slot * 0.38, 1.0)
    for tick in (0.0, top / 2, top):
        y = frame.y(tick)
        frame.parts.append(
            f'<line x1="{frame.left}" x2="{width - frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}"/><text x="{frame.left - 4}" y="{y + 3:.1f}" font-size="9" '
            f'text-anchor="end" fill="{MUTED}" {FONT}>{tick:.0%}</text>'
        )
    for i, name in enumerate(categories):
        x0 = frame.left + slot * i + slot * 0.1
        for j, (share, color) in enumerate(((reference[i], "#94a3b8"), (current[i], COLORS[0]))):
            y = frame.y(share)
            frame.parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{frame.y(0) - y:.1f}" fill="{color}"><title>{escape(name)}: '
                f"{names[j]} {share:.1%}</title></rect>"
            )
        # Every label while they fit; else about five, so they never overlap.
        if len(categories) <= 8 or i % max(round(len(categories) / 5), 1) == 0:
            frame.parts.append(
                f'<text x="{x0 + bar:.1f}" y="{height - frame.bottom + 12}" font-size="9" '
                f'text-anchor="middle" fill="{MUTED}" {FONT}>{escape(_short(name))}</text>'
            )
    frame.parts.append(
        f'<text x="{frame.left}" y="{height - 6}" font-size="10" {FONT}>'
        f'<tspan fill="#94a3b8">■</tspan> {names[0]}   '
        f'<tspan fill="{COLORS[0]}">■</tspan> {names[1]}</text>'
    )
    return _svg(frame)


def sparkline(
    values: Sequence[float | None],
    *,
    threshold: float | None = None,
    flagged: Sequence[bool] | None = None,
    width: int = 170,
    height: int = 40,
) -> str:
    """A statistic over windows, with its threshold; ``flagged`` windows in red (by
    default those at or above the threshold)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return _empty(width, height, "—")
    high = max([*finite, threshold or 0.0]) * 1.15 or 1.0
    frame = _Frame(width, height, left=2, right=2, top=3, bottom=3, low=0.0, high=high)
    frame.count = len(values)
    if threshold is not None:
        y = frame.y(threshold)
        frame.parts.append(
            f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dc2626" '
            'stroke-width="0.8" stroke-dasharray="3 3"/>'
        )
    markers = (
        list(flagged)
        if flagged is not None
        else [threshold is not None and v is not None and v >= threshold for v in values]
    )
    frame.parts.append(_line(frame, Series("", values, color=INK, markers=markers), radius=2.2))
    return _svg(frame)


def _axes(frame: _Frame, labels: Sequence[str], fmt: str) -> None:
    for k in range(5):
        v = frame.low + (frame.high - frame.low) * k / 4
        y = frame.y(v)
        frame.parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="{GRID}"/><text x="{frame.left - 6}" y="{y + 3:.1f}" '
            f'font-size="10" text-anchor="end" fill="{MUTED}" {FONT}>'
            f"{escape(fmt.format(v))}</text>"
        )
    step = max(1, math.ceil(len(labels) / 8))
    for i in range(0, len(labels), step):
        frame.parts.append(
            f'<text x="{frame.x(i):.1f}" y="{frame.height - frame.bottom + 14}" font-size="10" '
            f'text-anchor="middle" fill="{MUTED}" {FONT}>{escape(_short(labels[i], 16))}</text>'
        )


def _line(frame: _Frame, series: Series, radius: float = 2.6) -> str:
    parts: list[list[tuple[float, float]]] = []
    path: list[tuple[float, float]] = []
    for i, v in enumerate(series.values):
        if v is None or not math.isfinite(v):
            if len(path) > 1:
                parts.append(path)
            path = []
            continue
        path.append((frame.x(i), frame.y(v)))
    if path:
        parts.append(path)
    dash = ' stroke-dasharray="6 4"' if series.dashed else ""
    out = []
    for segment in parts:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{series.color}" '
            f'stroke-width="2"{dash}/>'
        )
    for i, v in enumerate(series.values):
        if v is None or not math.isfinite(v):
            continue
        flagged = bool(series.markers and series.markers[i])
        color = "#dc2626" if flagged else series.color
        r = radius + (0.8 if flagged else 0.0)
        out.append(
            f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="{r}" fill="{color}">'
            f"<title>{escape(series.name)}: {v:.4g}</title></circle>"
        )
    return "".join(out)


def _band(frame: _Frame, series: Series) -> str:
    assert series.band is not None
    upper, lower = [], []
    for i, pair in enumerate(series.band):
        if pair is None:
            continue
        upper.append(f"{frame.x(i):.1f},{frame.y(pair[1]):.1f}")
        lower.append(f"{frame.x(i):.1f},{frame.y(pair[0]):.1f}")
    if not upper:
        return ""
    points = " ".join(upper + lower[::-1])
    return f'<polygon points="{points}" fill="{series.color}" fill-opacity="0.15" stroke="none"/>'


def _svg(frame: _Frame) -> str:
    body = "".join(frame.parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img">{body}</svg>'
    )


def _empty(width: int, height: int, text: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%">'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="12" '
        f'fill="{MUTED}" {FONT}>{escape(text)}</text></svg>'
    )


def _short(text: str, limit: int = 10) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
