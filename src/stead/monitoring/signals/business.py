"""Business layer: KPIs from feedback, aggregated per window as ``[kpis]`` says.

Each KPI names a value that arrives with feedback (``kpis.<source>`` in
``ws.feedback.read``) and how a window aggregates it: ``sum`` (total loss), ``mean``
(average basket) or ``rate`` (the share of labelled predictions whose value is true or
non-zero, e.g. a complaint flag). A window whose aggregate is outside ``[min, max]`` is
an alert. Like performance, a window's KPIs wait for feedback until it is final.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stead.monitoring.records import SignalResult
from stead.monitoring.report.headlines import number
from stead.monitoring.settings import KpiSettings
from stead.monitoring.signals.performance import ANSWERED

KPI_PREFIX = "kpis."


def business_kpis(
    feedback: pd.DataFrame, kpis: dict[str, KpiSettings], *, final: bool
) -> SignalResult:
    """The KPI signal of one window.

    Args:
        feedback: ``ws.feedback.read`` of the window.
        kpis: ``[kpis]``, by name.
        final: whether feedback can still arrive for this window.
    """
    rows = feedback[feedback["role"].isin(ANSWERED)].drop_duplicates("request_id", keep="last")
    values: dict[str, Any] = {}
    breached: list[str] = []
    for name, kpi in kpis.items():
        column = KPI_PREFIX + (kpi.source or name)
        series = rows[column] if column in rows.columns else pd.Series([], dtype="float64")
        present = series.dropna()
        value = _aggregate(present, kpi.aggregate)
        low = kpi.min is not None and value is not None and value < kpi.min
        high = kpi.max is not None and value is not None and value > kpi.max
        values[name] = {
            "value": value,
            "aggregate": kpi.aggregate,
            "rows": len(present),
            "min": kpi.min,
            "max": kpi.max,
            "breached": bool(low or high),
            "description": kpi.description,
        }
        if low or high:
            breached.append(name)
    counted = max((v["rows"] for v in values.values()), default=0)
    summary = {"kpis": values, "breached": breached, "rows": counted}
    if breached:
        parts = [_describe(n, values[n]) for n in breached]
        return SignalResult("kpi", "alert", summary, message="; ".join(parts), final=final)
    if counted == 0:
        return SignalResult(
            "kpi",
            "insufficient_data" if final else "awaiting_labels",
            summary,
            message="no KPI values in the feedback yet",
            final=final,
        )
    shown = ", ".join(
        f"{n} {number(v['value'])} ({v['aggregate']})"
        for n, v in values.items()
        if v["value"] is not None
    )
    return SignalResult("kpi", "ok", summary, message=shown or "no KPI values", final=final)


def _aggregate(values: pd.Series, how: str) -> float | None:
    if values.empty:
        return None
    if how == "rate":
        truthy = values.map(lambda v: bool(v) and v not in ("false", "False", "0"))
        return float(truthy.mean())
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty:
        return None
    return float(numbers.sum() if how == "sum" else numbers.mean())


def _describe(name: str, facts: dict[str, Any]) -> str:
    value = facts["value"]
    if facts["max"] is not None and value > facts["max"]:
        return f"KPI {name} {number(value)} ({facts['aggregate']}) above {number(facts['max'])}"
    return f"KPI {name} {number(value)} ({facts['aggregate']}) below {number(facts['min'])}"
