"""Evaluation: the predictions recorded for the evaluation rows, and metrics from them.

What is recorded per evaluation row is the model's *scores*: class probabilities
(``predict_proba``, one column per class in ``classes_`` order) for a classifier that has
them, the predicted class index otherwise, and the prediction itself for a regressor. They
are stored as a ``.npy`` artifact (float64, C order) whose SHA-256 is the run's
*predictions hash*; ``stead reproduce`` compares exactly these bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from stead.core.errors import IntegrityError, SpecError
from stead.training.project import Task
from stead.training.settings import DEFAULT_METRICS as DEFAULT_METRICS  # re-exported
from stead.training.settings import METRIC_NAMES

# (needs probabilities, function(y_true, labels, scores, classes) → value)
_Metric = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray], float]


def _binary_scores(scores: np.ndarray | None) -> np.ndarray | None:
    return None if scores is None else scores[:, 1]


# The scorer behind each metric name. Which names a task allows, and its defaults, are
# stead.training.settings' METRIC_NAMES and DEFAULT_METRICS (plain data, so that checking
# [training] does not import scikit-learn); a name there without a scorer here fails on
# import.
_SCORERS: dict[str, tuple[bool, _Metric]] = {
    "roc_auc": (True, lambda y, _l, s, c: skm.roc_auc_score(y == c[1], _binary_scores(s))),
    "average_precision": (
        True,
        lambda y, _l, s, c: skm.average_precision_score(y, _binary_scores(s), pos_label=c[1]),
    ),
    "log_loss": (True, lambda y, _l, s, c: skm.log_loss(y, s, labels=c)),
    "brier": (
        True,
        lambda y, _l, s, c: skm.brier_score_loss(y, _binary_scores(s), pos_label=c[1]),
    ),
    "accuracy": (False, lambda y, p, _s, _c: skm.accuracy_score(y, p)),
    "balanced_accuracy": (False, lambda y, p, _s, _c: skm.balanced_accuracy_score(y, p)),
    "f1": (False, lambda y, p, _s, c: skm.f1_score(y, p, pos_label=c[1])),
    "precision": (
        False,
        lambda y, p, _s, c: skm.precision_score(y, p, pos_label=c[1], zero_division=0),
    ),
    "recall": (False, lambda y, p, _s, c: skm.recall_score(y, p, pos_label=c[1])),
    "f1_macro": (False, lambda y, p, _s, _c: skm.f1_score(y, p, average="macro")),
    "f1_weighted": (False, lambda y, p, _s, _c: skm.f1_score(y, p, average="weighted")),
    "roc_auc_ovr": (
        True,
        lambda y, _l, s, c: skm.roc_auc_score(y, s, multi_class="ovr", labels=c),
    ),
    "rmse": (False, lambda y, p, _s, _c: skm.root_mean_squared_error(y, p)),
    "mae": (False, lambda y, p, _s, _c: skm.mean_absolute_error(y, p)),
    "r2": (False, lambda y, p, _s, _c: skm.r2_score(y, p)),
    "mape": (False, lambda y, p, _s, _c: skm.mean_absolute_percentage_error(y, p)),
    "median_ae": (False, lambda y, p, _s, _c: skm.median_absolute_error(y, p)),
}

# Binary metrics of one class, scored for [training] positive_class; the others (log loss,
# accuracy) do not depend on which class is positive and keep the sorted class order.
POSITIVE_CLASS_METRICS = frozenset(
    {"roc_auc", "average_precision", "brier", "f1", "precision", "recall"}
)

# task → name → (needs probabilities, scorer), for the names the task allows.
METRICS: dict[Task, dict[str, tuple[bool, _Metric]]] = {
    task: {name: _SCORERS[name] for name in sorted(names)} for task, names in METRIC_NAMES.items()
}


@dataclass(frozen=True)
class Predictions:
    """A model's outputs on the evaluation rows.

    ``scores`` holds probabilities per class when the model has them; ``labels`` is the
    predicted class (classification) or value (regression).
    """

    values: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None

    def to_bytes(self) -> bytes:
        return predictions_to_bytes(self.values)


def predict(model: Any, X: Any, *, task: Task, classes: np.ndarray) -> Predictions:
    """Run ``model`` on ``X`` and keep what is recorded and scored."""
    if task == "regression":
        values = np.ascontiguousarray(np.asarray(model.predict(X), dtype=np.float64))
        return Predictions(values=values, labels=values, scores=None)
    if callable(getattr(model, "predict_proba", None)):
        scores = np.ascontiguousarray(np.asarray(model.predict_proba(X), dtype=np.float64))
        # Labels as predict would give them for sklearn classifiers: the most probable class.
        labels = classes[np.argmax(scores, axis=1)]
        return Predictions(values=scores, labels=labels, scores=scores)
    labels = np.asarray(model.predict(X))
    index = np.searchsorted(classes, labels).astype(np.float64)
    return Predictions(values=np.ascontiguousarray(index), labels=labels, scores=None)


def evaluate(
    y_true: np.ndarray,
    predictions: Predictions,
    *,
    task: Task,
    metrics: list[str],
    classes: np.ndarray,
    positive: Any = None,
) -> dict[str, float | None]:
    """Each metric's value; ``None`` when it needs probabilities the model lacks.

    ``positive`` (binary, ``[training] positive_class``) is the class the scores and the
    per-class metrics are of; default the second of ``classes``.
    """
    of_positive = (predictions, classes)
    if task == "binary" and positive is not None and len(classes) == 2:
        of_positive = _positive_last(predictions, classes, positive)
    results: dict[str, float | None] = {}
    for name in metrics:
        needs_scores, function = METRICS[task][name]
        given, order = of_positive if name in POSITIVE_CLASS_METRICS else (predictions, classes)
        if needs_scores and given.scores is None:
            results[name] = None
            continue
        try:
            value = float(function(y_true, given.labels, given.scores, order))
        except ValueError:  # e.g. ROC AUC on an evaluation set holding a single class
            results[name] = None
            continue
        results[name] = value if math.isfinite(value) else None
    return results


def positive_index(classes: list[Any], positive: Any, *, source: str = "the data") -> int:
    """Where ``[training] positive_class`` is among ``classes`` (equal, or equal as text).

    Raises:
        SpecError: it is not one of them.
    """
    for i, value in enumerate(classes):
        plain = _as_plain(value)  # True == 1 in Python: a bool matches only a bool
        if plain == positive and isinstance(plain, bool) == isinstance(positive, bool):
            return i
    for i, value in enumerate(classes):
        if str(_as_plain(value)) == str(positive):
            return i
    raise SpecError(
        f"[training] positive_class = {positive!r} is not a class of the target in {source}; "
        f"its classes are: {', '.join(repr(_as_plain(c)) for c in classes)}"
    )


def _as_plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _positive_last(
    predictions: Predictions, classes: np.ndarray, positive: Any
) -> tuple[Predictions, np.ndarray]:
    """The scorers take the second class as positive: put ``positive`` there."""
    if positive_index(list(classes), positive) == 1:
        return predictions, classes
    scores = None if predictions.scores is None else predictions.scores[:, ::-1]
    flipped = Predictions(values=predictions.values, labels=predictions.labels, scores=scores)
    return flipped, classes[::-1]


def predictions_to_bytes(values: np.ndarray) -> bytes:
    """Deterministic ``.npy`` bytes (header + float64 data): equal arrays, equal bytes."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def predictions_from_bytes(data: bytes, *, label: str = "predictions") -> np.ndarray:
    try:
        array: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise IntegrityError(f"{label} are not a NumPy array: {exc}") from exc
    return array


@dataclass(frozen=True)
class PredictionDifference:
    """How far two prediction arrays are apart."""

    shape_a: list[int]
    shape_b: list[int]
    differing_values: int
    differing_rows: int
    rows: int
    max_abs_difference: float | None
    changed_labels: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape_a": self.shape_a,
            "shape_b": self.shape_b,
            "differing_values": self.differing_values,
            "differing_rows": self.differing_rows,
            "rows": self.rows,
            "max_abs_difference": self.max_abs_difference,
            "changed_labels": self.changed_labels,
        }

    def describe(self) -> str:
        if self.shape_a != self.shape_b:
            return f"prediction shapes differ: {self.shape_a} recorded, {self.shape_b} now"
        text = (
            f"{self.differing_rows} of {self.rows} evaluation rows differ "
            f"({self.differing_values} values; largest absolute difference "
            f"{self.max_abs_difference:.3g})"
        )
        if self.changed_labels:
            text += f"; {self.changed_labels} predicted classes changed"
        return text


def prediction_difference(a: np.ndarray, b: np.ndarray, *, task: Task) -> PredictionDifference:
    if a.shape != b.shape:
        return PredictionDifference(list(a.shape), list(b.shape), 0, 0, len(a), None, None)
    # Bitwise comparison: NaN equals NaN when the bits match, -0.0 differs from 0.0.
    differs = a.view(np.uint64) != b.view(np.uint64)
    rows = differs if differs.ndim == 1 else differs.any(axis=1)
    with np.errstate(invalid="ignore"):
        gap = np.abs(a - b)
    max_gap = float(np.nanmax(gap)) if differs.any() else 0.0
    changed = None
    if task != "regression" and a.ndim == 2:
        changed = int((np.argmax(a, axis=1) != np.argmax(b, axis=1)).sum())
    return PredictionDifference(
        shape_a=list(a.shape),
        shape_b=list(b.shape),
        differing_values=int(differs.sum()),
        differing_rows=int(rows.sum()),
        rows=len(a),
        max_abs_difference=max_gap,
        changed_labels=changed,
    )
