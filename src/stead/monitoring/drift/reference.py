"""What a monitor compares a model version's windows with, computed once per version.

The inputs' reference is the training snapshot's profile (``ws.models.reference_profile``).
Everything else comes from the version's *evaluation predictions* and is computed the
first time a monitor sees the version, then stored (``monitor_references``), so no later
window re-reads training data:

- the **output profile**: the reference of prediction drift (the positive class's
  probability for a binary classifier, the predicted class for a multiclass one or one
  without probabilities, the value for a regressor);
- a **calibration** of the probabilities against the evaluation labels (isotonic
  regression), which confidence-based performance estimation needs: CBPE is only as good
  as the probabilities it trusts;
- the **training metrics**, the yardstick of measured and estimated performance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from stead.core.clock import utcnow
from stead.core.errors import SteadError
from stead.data.profile import ColumnProfile
from stead.monitoring.drift.outputs import profile_outputs
from stead.monitoring.tables import MonitorReferenceRow
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.training.service import RunService

PROBABILITIES = "outputs.probabilities."
PREDICTION = "outputs.prediction"
VALUE = "outputs.value"


@dataclass(frozen=True)
class Calibration:
    """A monotone map from a model's probability to the observed frequency.

    ``kind`` is ``binary`` (positive-class probability → P(positive)) or ``multiclass``
    (top-class probability → P(correct)).
    """

    kind: str
    x: list[float]
    y: list[float]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if not self.x:
            return values
        return np.interp(values, self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "x": self.x, "y": self.y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(kind=data["kind"], x=list(data["x"]), y=list(data["y"]))


@dataclass(frozen=True)
class VersionReference:
    """The monitoring reference of one model version beyond its input profile.

    Attributes:
        model: ``NAME@N``.
        task: ``binary``, ``multiclass`` or ``regression``.
        classes: the classes in ``predict_proba`` order (classification).
        output_column: the log column prediction drift watches.
        output_profile: its profile on the evaluation rows.
        calibration: probability calibration, when the model gives probabilities.
        metrics: the run's evaluation metrics.
        eval_rows: evaluation rows behind all of it.
    """

    model: str
    task: str
    classes: list[Any] | None
    output_column: str
    output_profile: ColumnProfile
    calibration: Calibration | None
    metrics: dict[str, float | None]
    eval_rows: int

    @property
    def probability_columns(self) -> list[str]:
        return [f"{PROBABILITIES}{c}" for c in self.classes or []]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "classes": self.classes,
            "output_column": self.output_column,
            "output_profile": self.output_profile.to_dict(),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "metrics": self.metrics,
            "eval_rows": self.eval_rows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VersionReference:
        calibration = data.get("calibration")
        return cls(
            model=data["model"],
            task=data["task"],
            classes=data.get("classes"),
            output_column=data["output_column"],
            output_profile=ColumnProfile(**data["output_profile"]),
            calibration=None if calibration is None else Calibration.from_dict(calibration),
            metrics=dict(data.get("metrics") or {}),
            eval_rows=int(data.get("eval_rows", 0)),
        )


def version_reference(ctx: Context, version: ModelVersion, runs: RunService) -> VersionReference:
    """The stored reference of ``version``; built (and stored, audited) the first time."""
    with ctx.store.read() as session:
        row = session.get(MonitorReferenceRow, version.id)
        if row is not None:
            return VersionReference.from_dict(row.body)
    reference = build_reference(version, runs)
    with ctx.store.change("monitor.reference", f"model:{version.ref}") as change:
        if change.session.get(MonitorReferenceRow, version.id) is None:
            change.session.add(
                MonitorReferenceRow(
                    version_id=version.id,
                    model_version=version.ref,
                    body=reference.to_dict(),
                    created_at=utcnow(),
                )
            )
        change.details.update(
            {
                "output_column": reference.output_column,
                "calibrated": reference.calibration is not None,
                "eval_rows": reference.eval_rows,
            }
        )
    return reference


def build_reference(version: ModelVersion, runs: RunService) -> VersionReference:
    """Compute a version's reference from its run's evaluation predictions and labels."""
    run = runs.get(version.run_id)
    values = runs.eval_predictions(run)
    task = version.task
    classes = version.output.get("classes")
    scores = version.output.get("scores")
    calibration = None
    if task == "regression":
        column = VALUE
        profile = profile_outputs(pd.Series(values.astype(np.float64), name=column))
    elif scores == "probabilities" and values.ndim == 2 and len(classes or []) == 2:
        assert classes is not None
        column = f"{PROBABILITIES}{classes[1]}"
        positive = values[:, 1]
        profile = profile_outputs(pd.Series(positive, name=column))
        labels = _eval_labels(runs, run, version)
        if labels is not None:
            outcome = (labels == str(classes[1])).astype(np.float64)
            calibration = _isotonic("binary", positive, outcome)
    else:
        column = PREDICTION
        assert classes is not None
        if values.ndim == 2:
            chosen = np.asarray(classes, dtype=object)[np.argmax(values, axis=1)]
        else:
            chosen = np.asarray(classes, dtype=object)[values.astype(np.int64)]
        profile = profile_outputs(
            pd.Series([str(c) for c in chosen], name=column, dtype="object"), categorical=True
        )
        if values.ndim == 2:
            labels = _eval_labels(runs, run, version)
            if labels is not None:
                correct = (np.asarray([str(c) for c in chosen]) == labels).astype(np.float64)
                calibration = _isotonic("multiclass", values.max(axis=1), correct)
    return VersionReference(
        model=version.ref,
        task=task,
        classes=list(classes) if classes is not None else None,
        output_column=column,
        output_profile=profile,
        calibration=calibration,
        metrics=dict(run.metrics),
        eval_rows=int(values.shape[0]),
    )


def _eval_labels(runs: RunService, run: Any, version: ModelVersion) -> np.ndarray | None:
    """The evaluation rows' labels as text (reads the snapshot once, per version)."""
    target = version.output.get("target")
    try:
        frame = runs.eval_frame(run)
    except SteadError:  # a snapshot that cannot be read leaves the estimate uncalibrated
        return None
    if target not in frame.columns:
        return None
    return frame[target].astype(str).to_numpy()


def _isotonic(kind: str, scores: np.ndarray, outcome: np.ndarray) -> Calibration:
    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(scores, outcome)
    x = [float(v) for v in model.X_thresholds_]
    y = [float(v) for v in model.y_thresholds_]
    return Calibration(kind=kind, x=x, y=y)
