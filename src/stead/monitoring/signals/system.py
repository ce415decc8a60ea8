"""System layer: latency, errors, fallbacks and shadow disagreement, from the log alone.

Read from how the serving engine logs a request: the version that answered logs a row
(``production`` or ``canary``); when it failed or was too slow, that row carries the
``error`` and the fallback's answer is logged as a second row with role ``fallback``;
each shadow logs a row with role ``shadow`` whose ``outputs.agrees`` says whether it gave
production's answer. Requests refused at the edge (role ``rejected``) are counted in
``refused``; ``quarantined`` counts the predictions the log writer could not store (kept
in the log's quarantine) — both say something about the callers or the system that a
latency figure does not, and any quarantined record is an alert.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stead.monitoring.records import SignalResult
from stead.monitoring.settings import SystemSettings

PRIMARY = ("production", "canary")
AGREES = "outputs.agrees"


def system_health(
    frame: pd.DataFrame, settings: SystemSettings, *, quarantined: int = 0
) -> SignalResult:
    """The system signal of one window of log rows (every role).

    Args:
        quarantined: predictions of the window the log writer quarantined.
    """
    role = frame["role"].astype("string")
    primary = frame[role.isin(PRIMARY).to_numpy()]
    requests = len(primary)
    refused = int((role == "rejected").sum())
    if requests == 0:
        return SignalResult(
            "system",
            "alert" if quarantined else "insufficient_data",
            {"requests": 0, "refused": refused, "quarantined": quarantined},
            message=f"no requests in the window; {quarantined} quarantined by the log"
            if quarantined
            else "no requests in the window",
        )
    answered = frame[role.isin((*PRIMARY, "fallback")).to_numpy()]
    latency = pd.to_numeric(answered["latency_ms"], errors="coerce").dropna().to_numpy()
    errors = int(primary["error"].notna().sum())
    fallbacks = int((role == "fallback").sum())
    shadows = frame[(role == "shadow").to_numpy()]
    agrees = shadows[AGREES] if AGREES in shadows.columns else pd.Series([], dtype="object")
    compared = agrees.dropna()
    disagreement = float((~compared.astype(bool)).mean()) if len(compared) else None
    summary: dict[str, Any] = {
        "requests": requests,
        "latency_p50_ms": _quantile(latency, 0.5),
        "latency_p99_ms": _quantile(latency, 0.99),
        "error_rate": errors / requests,
        "errors": errors,
        "fallback_rate": fallbacks / requests,
        "fallbacks": fallbacks,
        "refused": refused,
        "quarantined": quarantined,
        "shadow_rows": len(shadows),
        "shadow_errors": int(shadows["error"].notna().sum()) if len(shadows) else 0,
        "shadow_disagreement": disagreement,
        "by_version": {
            str(v): {
                "rows": len(g),
                "latency_p50_ms": _quantile(
                    pd.to_numeric(g["latency_ms"], errors="coerce").dropna().to_numpy(), 0.5
                ),
            }
            for v, g in answered.groupby("model_version", sort=True)
        },
    }
    breaches = _breaches(summary, settings)
    if quarantined:
        breaches["quarantined"] = (
            f"{quarantined} prediction(s) could not be stored and were quarantined "
            "(see the log's quarantine/ directory)"
        )
    summary["breaches"] = sorted(breaches)
    if breaches:
        message = "; ".join(breaches.values())
        return SignalResult(
            "system", "alert", summary, details={"limits": breaches}, message=message
        )
    p99 = summary["latency_p99_ms"]
    message = (
        f"{requests} requests, p99 {p99:.1f} ms, {errors} errors, {fallbacks} fallbacks, "
        f"{refused} refused"
        if p99 is not None
        else f"{requests} requests"
    )
    return SignalResult("system", "ok", summary, message=message)


def _quantile(values: np.ndarray, q: float) -> float | None:
    return float(np.quantile(values, q)) if values.size else None


def _breaches(summary: dict[str, Any], settings: SystemSettings) -> dict[str, str]:
    found: dict[str, str] = {}
    limits = {
        "latency_p50_ms": (settings.latency_p50_ms, "latency p50 {v:.1f} ms above {limit:g} ms"),
        "latency_p99_ms": (settings.latency_p99_ms, "latency p99 {v:.1f} ms above {limit:g} ms"),
        "error_rate": (settings.error_rate, "error rate {v:.2%} above {limit:.2%}"),
        "fallback_rate": (settings.fallback_rate, "fallback rate {v:.2%} above {limit:.2%}"),
        "shadow_disagreement": (
            settings.shadow_disagreement,
            "shadows disagree on {v:.2%} of requests (limit {limit:.2%})",
        ),
    }
    for key, (limit, text) in limits.items():
        value = summary.get(key)
        if limit is not None and value is not None and value > limit:
            found[key] = text.format(v=value, limit=limit)
    return found
