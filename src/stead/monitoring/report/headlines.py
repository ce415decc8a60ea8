"""One short headline per signal result, the same in ``stead monitor show`` and the report.

Example:
    >>> from types import SimpleNamespace as R
    >>> headline(R(signal="performance", status="ok",
    ...            summary={"metric": "roc_auc", "value": 0.81, "labelled": 240}))
    'roc_auc 0.810 (240 labels)'
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

SIGNAL_TITLES = {
    "data_drift": "data drift",
    "prediction_drift": "prediction drift",
    "schema": "schema",
    "performance": "performance (measured)",
    "estimated_performance": "performance (estimated)",
    "system": "system",
    "kpi": "business KPIs",
}


class _Result(Protocol):
    @property
    def signal(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def summary(self) -> dict[str, Any]: ...


def drift_coverage(summary: dict[str, Any]) -> str:
    """How many inputs a drift check judged and found drifted, and which it skipped and
    why, in one form for every place that says it: ``1 of 11 inputs drifted (1 of 12
    skipped: age: missing)``."""
    drifted = summary.get("drifted") or []
    checked = int(summary.get("checked") or 0)
    skipped = summary.get("skipped") or {}
    text = f"{len(drifted)} of {checked} inputs drifted"
    if skipped:
        total = int(summary.get("inputs") or checked + len(skipped))
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(skipped.items()))
        text += f" ({len(skipped)} of {total} skipped: {reasons})"
    return text


def headline(result: _Result) -> str:
    """The few words that say what a result found."""
    s = result.summary
    signal = result.signal
    if signal == "data_drift":
        drifted = s.get("drifted") or []
        coverage = drift_coverage(s)
        return f"{coverage}: {', '.join(drifted)}" if drifted else coverage
    if signal == "prediction_drift":
        value = s.get(s.get("headline") or "psi")
        stat = s.get("headline") or "psi"
        return f"{stat} {value:.3f}" if isinstance(value, float) else result.status
    if signal == "schema":
        changes = [
            f"{k.replace('_', ' ')}: {', '.join(v)}"
            for k in (
                "missing_fields",
                "new_fields",
                "type_changes",
                "null_rate_jumps",
                "out_of_range",
            )
            if (v := s.get(k))
        ]
        if answered := s.get("out_of_range_answered"):
            fields = ", ".join(f"{k} {n}" for k, n in s["out_of_range_answered_by_field"].items())
            changes.append(f"{answered} answered out of range ({fields})")
        return "; ".join(changes) or "matches the contract"
    if signal == "performance":
        value = s.get("value")
        labels = f"{s.get('labelled', 0)} labels"
        return f"{s.get('metric')} {value:.3f} ({labels})" if value is not None else labels
    if signal == "estimated_performance":
        value = s.get("estimate")
        if value is None:
            return result.status.replace("_", " ")
        se = s.get("se") or 0.0
        return f"{s.get('metric')} ≈ {value:.3f} ± {1.96 * se:.3f}"
    if signal == "system":
        p99 = s.get("latency_p99_ms")
        error = s.get("error_rate")
        parts = []
        if p99 is not None:
            parts.append(f"p99 {p99:.0f} ms")
        if error is not None:
            parts.append(f"errors {error:.1%}")
        if s.get("fallback_rate"):
            parts.append(f"fallback {s['fallback_rate']:.1%}")
        return ", ".join(parts) or result.status
    if signal == "kpi":
        shown = [
            f"{name} {number(v['value'])}"
            for name, v in (s.get("kpis") or {}).items()
            if v.get("value") is not None
        ]
        return ", ".join(shown) or result.status.replace("_", " ")
    return result.status


def number(value: float) -> str:
    """A value as people read it: 890,002 or 0.0421."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def window_label(key: str, start: datetime, end: datetime) -> str:
    """A window as a chart axis shows it: ``#17``, ``07-01`` or ``07-01 10:00``."""
    if "#" in key:
        return f"#{key.split('#')[-1]}"
    if end - start >= timedelta(days=1):
        return f"{start:%m-%d}"
    return f"{start:%m-%d %H:%M}"


def short_key(key: str) -> str:
    """A window key as a table column holds it: ``#17``, ``09-17`` or ``09-17 10:00``."""
    if "#" in key:
        return f"#{key.split('#')[-1]}"
    spec, _, start = key.partition("@")
    if not start:
        return key
    day = start[5:10]
    return day if spec.endswith("d") else f"{day} {start[11:16]}"
