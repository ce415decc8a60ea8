"""Model layer: performance measured from feedback, per window.

A window's predictions are joined with their labels by request id (``ws.feedback.read``,
by *prediction* time, whenever the labels arrived). The metric is computed with the same
functions training used, on the answers actually given (production, canary or fallback;
never a shadow), and compared with the training evaluation metric: the window is
*below* when it is worse by more than ``tolerance`` (in the metric's units; for an
unbounded metric such as RMSE the settings make it a fraction of the training value,
see :meth:`~stead.monitoring.settings.PerformanceSettings.allowed`). With fewer than ``min_labels``
labelled predictions the metric is shown but not judged.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from stead.monitoring.drift.reference import PREDICTION, PROBABILITIES, VALUE
from stead.monitoring.records import SignalResult
from stead.registry.settings import better
from stead.training.evaluation import Predictions, evaluate
from stead.training.project import Task
from stead.training.settings import DEFAULT_METRICS, METRIC_NAMES

ANSWERED = ("production", "canary", "fallback")


def measured_performance(
    feedback: pd.DataFrame,
    *,
    task: str,
    classes: list[Any] | None,
    metric: str,
    training_value: float | None,
    tolerance: float,
    min_labels: int,
    predictions: int,
    final: bool,
    tolerance_basis: str = "absolute",
) -> SignalResult:
    """The performance signal of one window.

    Args:
        feedback: ``ws.feedback.read`` of the window (predictions with labels).
        task: the production version's task.
        classes: its classes, in probability order.
        metric: the metric to judge by.
        training_value: the metric on the version's evaluation set.
        tolerance: how much worse than training still counts as fine, in metric units.
        min_labels: fewer labelled predictions are not judged.
        predictions: answered predictions in the window (for the label coverage).
        final: whether labels can still arrive for this window.
        tolerance_basis: how ``tolerance`` was reached (``absolute`` or a fraction of
            the training value), for the message.
    """
    answered = feedback[feedback["role"].isin(ANSWERED) & feedback["error"].isna()]
    answered = answered.drop_duplicates("request_id", keep="last")
    labelled = len(answered)
    coverage = labelled / predictions if predictions else 0.0
    metrics = _metrics(answered, task=task, classes=classes, metric=metric) if labelled else {}
    by_version = {
        str(version): {
            "labelled": len(group),
            metric: _metrics(group, task=task, classes=classes, metric=metric).get(metric),
        }
        for version, group in answered.groupby("model_version", sort=True)
    }
    value = metrics.get(metric)
    summary: dict[str, Any] = {
        "metric": metric,
        "value": value,
        "training": training_value,
        "tolerance": tolerance,
        "tolerance_basis": tolerance_basis,
        "labelled": labelled,
        "predictions": predictions,
        "coverage": coverage,
        "metrics": metrics,
        "by_version": by_version,
        "below": False,
    }
    if labelled < min_labels or value is None:
        status: Any = "insufficient_data" if final else "awaiting_labels"
        message = f"{labelled} of {predictions} predictions labelled so far" + (
            f" ({metric} {value:.4f}, not judged below {min_labels})" if value is not None else ""
        )
        return SignalResult("performance", status, summary, message=message, final=final)
    if training_value is None:
        message = f"{metric} {value:.4f} on {labelled} labels (no training value to compare)"
        return SignalResult("performance", "ok", summary, message=message, final=final)
    gap = better(metric, value, training_value)
    below = gap < -tolerance
    summary.update({"gap": gap, "below": below})
    message = (
        f"{metric} {value:.4f} on {labelled} labels vs {training_value:.4f} at training "
        f"({gap:+.4f}; tolerance {tolerance:g}"
        + ("" if tolerance_basis == "absolute" else f", {tolerance_basis}")
        + ")"
    )
    return SignalResult(
        "performance", "alert" if below else "ok", summary, message=message, final=final
    )


def _metrics(
    rows: pd.DataFrame, *, task: str, classes: list[Any] | None, metric: str
) -> dict[str, float | None]:
    if not _is_task(task):
        return {}
    names = list(dict.fromkeys([metric, *DEFAULT_METRICS[task]]))
    y_true = _labels(rows["label"], classes, task)
    if task == "regression":
        column = rows[VALUE] if VALUE in rows.columns else pd.Series(np.nan, index=rows.index)
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        predictions = Predictions(values=values, labels=values, scores=None)
        class_array = np.asarray([])
    else:
        class_array = np.asarray(classes or [])
        probability = [f"{PROBABILITIES}{c}" for c in classes or []]
        scores = None
        if probability and all(c in rows.columns for c in probability):
            scores = rows[probability].to_numpy(dtype=np.float64)
            if np.isnan(scores).any():
                scores = None
        if scores is not None:
            labels = class_array[np.argmax(scores, axis=1)]
        else:
            labels = _labels(rows[PREDICTION], classes, task)
        predictions = Predictions(values=labels, labels=labels, scores=scores)
    try:
        return evaluate(
            y_true,
            predictions,
            task=task,
            metrics=[m for m in names if m in METRIC_NAMES[task]],
            classes=class_array,
        )
    except (TypeError, ValueError):
        return {}


def _is_task(task: str) -> TypeGuard[Task]:
    # A model version records its task as text; metrics exist for training's tasks only.
    return task in METRIC_NAMES


def _labels(values: pd.Series, classes: list[Any] | None, task: str) -> np.ndarray:
    """Labels as the model's classes are typed (feedback arrives as JSON scalars)."""
    if task == "regression":
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    lookup = {_key(c): c for c in classes or []}
    # No dtype=object: scikit-learn does not recognise the targets in an object array.
    return np.asarray([lookup.get(_key(v), v) for v in values])


def _key(value: Any) -> str:
    # 1, 1.0 and "1" are the same class once they have been through JSON and pandas.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return _key(value.item())
    return str(value)
