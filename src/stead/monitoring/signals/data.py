"""Data layer: drift of the inputs (per feature) and of the outputs (prediction drift).

Both compare a window with profiles stored at training time (the snapshot's, and the
version's evaluation outputs) using :func:`~stead.monitoring.drift.detect.detect_drift`, so a
window costs one pass over its own rows. Besides the verdicts, each result keeps the
window's counts in the reference bins (or per reference level): the report draws
reference against current from them without reading the window again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from stead.data.profile import ColumnProfile, Profile
from stead.monitoring.drift.column_pass import (
    numeric_values,
    summarise_categorical,
    summarise_numeric,
)
from stead.monitoring.drift.detect import comparable, detect_drift
from stead.monitoring.drift.outputs import detect_prediction_drift
from stead.monitoring.drift.report import ColumnDrift
from stead.monitoring.drift.thresholds import DriftConfig
from stead.monitoring.records import SignalResult
from stead.monitoring.report.headlines import drift_coverage

# The statistic charted per kind of column: the effect size that decides most often.
HEADLINE = {"numeric": "psi", "categorical": "js_distance"}


def feature_drift(
    profile: Profile,
    inputs: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    config: DriftConfig,
) -> SignalResult:
    """Per-feature drift of a window's inputs against the training snapshot's profile.

    Args:
        profile: the reference profile (``ws.models.reference_profile``).
        inputs: the window's input records, one column per feature.
        columns: the features to check; default every profiled feature.
        config: thresholds.
    """
    profiled = {c.name for c in profile.columns if comparable(c)}
    asked = list(columns) if columns else [c.name for c in profile.columns]
    wanted = [c for c in asked if c in profiled]
    # Every input asked for is either checked or skipped with its reason.
    skipped = {c: "no training profile to compare with" for c in asked if c not in profiled}
    report = detect_drift(profile, inputs, columns=wanted, config=config)
    for c in report.columns:
        if c.status not in ("ok", "drifted"):
            skipped[c.column] = c.reason or c.status.replace("_", " ")
    scores = {c.column: _scores(c) for c in report.columns}
    distributions = {
        c.name: _distribution(c, inputs[c.name])
        for c in profile.columns
        if c.name in wanted and c.name in inputs.columns
    }
    judged = [c for c in report.columns if c.status in ("ok", "drifted")]
    drifted = report.drifted_features
    coverage = drift_coverage(
        {"drifted": drifted, "checked": len(judged), "inputs": len(asked), "skipped": skipped}
    )
    if drifted:
        status: Any = "alert"
        parts = [f"{c.column} ({', '.join(c.flagged_by)})" for c in report.columns if c.drifted]
        message = f"{coverage}: {', '.join(parts)}"
    elif not judged:
        status = "insufficient_data"
        message = f"{coverage} ({report.rows} rows; min_rows={config.min_rows})"
    else:
        status = "ok"
        message = coverage
    return SignalResult(
        signal="data_drift",
        status=status,
        summary={
            "drifted": drifted,
            "checked": len(judged),
            "inputs": len(asked),
            "skipped": skipped,
            "missing": report.missing_features,
            "scores": scores,
        },
        details={"report": report.to_dict(), "distributions": distributions},
        message=message,
    )


def prediction_drift(
    reference: ColumnProfile, outputs: pd.Series | None, *, config: DriftConfig
) -> SignalResult:
    """Drift of a window's model outputs against the version's evaluation outputs."""
    column = (
        detect_prediction_drift(reference, outputs, config=config)
        if outputs is not None
        else detect_prediction_drift(reference, pd.Series([], dtype="float64"), config=config)
    )
    summary: dict[str, Any] = {"column": reference.name, **_scores(column)}
    distribution = None
    if outputs is not None and len(outputs):
        distribution = _distribution(reference, outputs)
        values = numeric_values(outputs)
        if values is not None:
            summary["mean"] = float(pd.Series(values).mean())
            summary["reference_mean"] = reference.mean
    if column.drifted:
        status: Any = "alert"
        message = f"the model's outputs ({reference.name}) drifted: {', '.join(column.flagged_by)}"
    elif column.status == "ok":
        status = "ok"
        message = f"no drift in the model's outputs ({reference.name})"
    else:
        status = "insufficient_data"
        message = column.reason or f"too few outputs to judge drift ({column.rows})"
    return SignalResult(
        signal="prediction_drift",
        status=status,
        summary=summary,
        details={"column": column.to_dict(), "distribution": distribution},
        message=message,
    )


def _scores(column: ColumnDrift) -> dict[str, Any]:
    scores: dict[str, Any] = {"status": column.status, "kind": column.kind}
    for statistic in column.statistics:
        scores[statistic.name] = statistic.value
    scores["headline"] = HEADLINE[column.kind]
    return scores


def _distribution(reference: ColumnProfile, series: pd.Series) -> dict[str, Any] | None:
    """The window's counts in the reference's bins or levels (what the report draws)."""
    if reference.bin_edges is not None and reference.kind in ("int", "float"):
        values = numeric_values(series)
        if values is None:
            return None
        window = summarise_numeric(values, reference)
        return {"kind": "numeric", "counts": [int(n) for n in window.bin_counts]}
    if reference.level_counts is not None:
        counts = summarise_categorical(series, reference).level_counts
        return {"kind": "categorical", "counts": counts}
    return None
