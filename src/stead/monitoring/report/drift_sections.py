"""The report's drift sections: a feature x window heat map of the deciding statistic,
per feature the training distribution against the latest window's with the statistic
over time, and the same for the model's outputs."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from itertools import pairwise
from typing import Any

from stead.data.profile import ColumnProfile, Profile
from stead.monitoring.drift.column_pass import UNSEEN_LEVEL
from stead.monitoring.history import WindowResults
from stead.monitoring.records import MonitorResult
from stead.monitoring.report.headlines import drift_coverage, number, window_label
from stead.monitoring.report.svg import Rule, Series, line_chart, paired_bars, sparkline

# Chart width (SVG units) of half a panel row: text keeps its size.
HALF = 520


def drift_section(windows: Sequence[WindowResults], profile: Profile | None) -> str:
    results = [w.results.get("data_drift") for w in windows]
    present = [r for r in results if r is not None]
    if not present:
        return ""
    config = present[-1].details.get("report", {}).get("config", {})
    features: list[str] = []
    for r in present:
        for name in r.summary.get("scores", {}):
            if name not in features:
                features.append(name)
    latest = present[-1]
    drifted_now = set(latest.summary.get("drifted", []))
    ever = {f for r in present for f in r.summary.get("drifted", [])}
    order = sorted(features, key=lambda f: (f not in drifted_now, f not in ever, f))
    head = "".join(f"<th>{escape(w.key.split('@')[-1].split('#')[-1][:10])}</th>" for w in windows)
    rows = []
    for name in order:
        cells = []
        for result in results:
            scores = (result.summary.get("scores", {}) if result else {}).get(name)
            cells.append(_heat_cell(scores, config))
        rows.append(f'<tr><td class="name">{escape(name)}</td>{"".join(cells)}</tr>')
    heat = (
        f'<div class="panel"><p class="note">Per feature and window, the effect size that '
        f"decides drift: PSI for numbers (threshold {config.get('psi', 0.2)}), Jensen–Shannon "
        f"distance for categories (threshold {config.get('js_distance', 0.1)}). Red: drifted; "
        f"yellow: above the threshold, but in a small window the test did not confirm it (noise is "
        "likely).</p>"
        f'<div style="overflow-x:auto"><table class="heat"><tr><th></th>{head}</tr>'
        f"{''.join(rows)}</table></div></div>"
    )
    cards = [_feature_card(name, results, latest, profile, config) for name in order]
    return (
        f'<h2 id="drift">Data drift: {escape(drift_coverage(latest.summary))} '
        f'in the latest window</h2>{heat}<div class="features">{"".join(cards)}</div>'
    )


def _heat_cell(scores: dict[str, Any] | None, config: dict[str, Any]) -> str:
    if not scores or scores.get("status") not in ("ok", "drifted"):
        return '<td class="muted">·</td>'
    stat = scores.get("headline", "psi")
    value = scores.get(stat)
    if value is None:
        return '<td class="muted">·</td>'
    threshold = config.get(stat, 0.2)
    # Yellow: the effect crossed its threshold but a small window's test did not confirm it.
    level = 2 if scores.get("status") == "drifted" else 1 if value >= threshold else 0
    title = ", ".join(
        f"{k} {v:.3g}" for k, v in scores.items() if isinstance(v, float) and k != "headline"
    )
    return f'<td class="h{level}" title="{escape(title)}">{value:.2f}</td>'


def _feature_card(
    name: str,
    results: Sequence[MonitorResult | None],
    latest: MonitorResult,
    profile: Profile | None,
    config: dict[str, Any],
) -> str:
    scores = latest.summary.get("scores", {}).get(name, {})
    stat = scores.get("headline", "psi")
    series = [
        ((r.summary.get("scores", {}).get(name) or {}).get(stat) if r else None) for r in results
    ]
    flagged = [bool(r and name in r.summary.get("drifted", [])) for r in results]
    stats = ", ".join(
        f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float) and k != "headline"
    )
    status = scores.get("status", "?")
    pill = "bad" if status == "drifted" else "ok" if status == "ok" else "wait"
    bars = _distribution(name, latest, profile)
    return (
        f'<div class="panel feature{" drifted" if status == "drifted" else ""}">'
        f'<h3>{escape(name)} <span class="pill {pill}">{escape(status)}</span></h3>'
        f'<div class="stats">{escape(stats) or "—"}</div>'
        f'<div class="two"><div>{bars}</div><div><div class="note">{escape(stat)} per window '
        f"(dashed: threshold; red: drifted)</div>"
        f"{sparkline(series, threshold=config.get(stat), flagged=flagged)}</div>"
        "</div></div>"
    )


def _distribution(name: str, result: MonitorResult, profile: Profile | None) -> str:
    current = (result.details.get("distributions") or {}).get(name)
    if profile is None or current is None:
        return '<p class="muted">no distribution stored</p>'
    try:
        reference = profile.column(name)
    except KeyError:
        return '<p class="muted">not in the reference profile</p>'
    return _bars(reference, current)


def _bars(reference: ColumnProfile, current: dict[str, Any], *, width: int = 360) -> str:
    if current.get("kind") == "numeric" and reference.bin_counts is not None:
        edges = reference.bin_edges or []
        labels = [f"≤{number(edges[0])}"] if edges else ["all"]
        labels += [f"{number(a)}–{number(b)}" for a, b in pairwise(edges)]
        if edges:
            labels.append(f">{number(edges[-1])}")
        ref = _shares(reference.bin_counts)
        cur = _shares(current.get("counts") or [0] * len(ref))
        return paired_bars(labels, ref, cur, width=width)
    levels = dict(reference.level_counts or {})
    counts = dict(current.get("counts") or {})
    names = sorted(levels, key=lambda k: -levels[k])[:12]
    extra = [k for k in counts if k not in levels]
    names += extra
    ref_total = sum(levels.values()) or 1
    cur_total = sum(counts.values()) or 1
    labels = ["new" if k == UNSEEN_LEVEL else k for k in names]
    return paired_bars(
        labels,
        [levels.get(k, 0) / ref_total for k in names],
        [counts.get(k, 0) / cur_total for k in names],
        width=width,
    )


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts) or 1
    return [c / total for c in counts]


def prediction_drift_section(
    windows: Sequence[WindowResults], reference: ColumnProfile | None
) -> str:
    results = [w.results.get("prediction_drift") for w in windows]
    present = [r for r in results if r is not None]
    if not present:
        return ""
    latest = present[-1]
    stat = latest.summary.get("headline", "psi")
    values = [r.summary.get(stat) if r else None for r in results]
    flagged = [bool(r and r.status == "alert") for r in results]
    labels = [window_label(w.key, w.start, w.end) for w in windows]
    chart = line_chart(
        labels,
        [Series(f"{stat} of {latest.summary.get('column')}", values, markers=flagged)],
        rules=[Rule(0.2 if stat == "psi" else 0.1, "threshold")],
        width=HALF,
        floor=0.0,
    )
    current = latest.details.get("distribution")
    bars = _bars(reference, current, width=HALF) if reference is not None and current else ""
    return (
        '<h2 id="prediction">Prediction drift</h2>'
        f'<div class="two"><div class="panel">{chart}</div>'
        f'<div class="panel"><div class="note">model outputs: training evaluation vs latest '
        f"window</div>{bars}</div></div>"
    )
