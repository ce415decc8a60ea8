"""Leakage checks: before every training on the data, and after it on the trained model.

Each check is set to ``"error"``, ``"warn"`` or ``"off"`` in ``[training.leakage]``. The
checks on the data run before anything is fitted, and ``error`` refuses to train:

- **target**: one feature alone predicts the target almost perfectly: an in-sample rank
  score and a cross-validated single-feature model (binned; see
  :mod:`.leakage_scores`). Binary: ROC AUC ≥ ``auc_threshold``; multiclass: macro
  one-vs-rest ROC AUC ≥ ``auc_threshold``; regression: R² ≥ ``r2_threshold`` or
  |correlation| ≥ ``correlation_threshold``. Measured on (a sample of) the training rows.
- **combination** (regression): a linear fit on a few numeric features explains the
  target with held-out R² ≥ ``combination_threshold`` (``casual + registered = total``).
- **contamination**: the same id, or the same exact row, in both training and evaluation.
  With a time split, recurring ids are the entity's later history, not contamination.
- **temporal**: with a time split, a training row at or after the evaluation start.
- **forbidden_columns**: a PII, post-prediction or id column used as a feature.

One runs on the trained model (see :func:`too_good_to_be_true`), since a leak the data
checks miss shows as a model too good to be true:

- **too_good**: the evaluation R² ≥ ``too_good_r2`` (regression) or ROC AUC ≥
  ``too_good_auc`` (classification), next to the baseline's. ``error`` records the run
  and fails the readiness checklist's ``leakage`` item.

Each finding names the column(s), the score or count, the threshold and the setting that
changes it, and says what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from stead.core.errors import SpecError
from stead.features.leakage_scores import (
    FeatureScore,
    Target,
    feature_score,
    linear_combination,
    r_squared,
    roc_auc,
)
from stead.features.settings import LeakageSettings as LeakageSettings
from stead.features.settings import Severity as Severity

Task = Literal["binary", "multiclass", "regression"]

# Above this many training rows the target checks sample (seeded): at 50,000 rows an AUC
# near the 0.99 threshold has a standard error under 0.001 (with balanced classes), and
# the checks stay a small fixed cost (see docs/training.md for the figures).
MAX_CHECK_ROWS = 50_000
EXAMPLES = 5
# The too-good check needs this many evaluation rows of each class (and in all for
# regression): a perfect score on a handful of rows is not evidence of a leak.
MIN_TOO_GOOD_ROWS = 30
# The checks that run on the data before training, in the order they run.
DATA_CHECKS = ("forbidden_columns", "target", "combination", "contamination", "temporal")


class LeakageDetected(SpecError):
    """A leakage check set to ``error`` found leakage; nothing was trained."""

    code = "leakage_detected"


@dataclass(frozen=True)
class LeakageFinding:
    check: str
    severity: Literal["error", "warn"]
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LeakageReport:
    findings: list[LeakageFinding]
    checked: list[str]

    @property
    def errors(self) -> list[LeakageFinding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[LeakageFinding]:
        return [f for f in self.findings if f.severity == "warn"]

    def raise_for_errors(self) -> None:
        """Raise :class:`LeakageDetected` listing every error finding (if any)."""
        if not self.errors:
            return
        lines = "; ".join(f.message for f in self.errors)
        raise LeakageDetected(
            f"leakage check failed, nothing was trained: {lines}",
            details={"findings": [f.to_dict() for f in self.errors]},
        )

    def with_check(
        self, check: str, severity: Severity, found: list[tuple[str, dict[str, Any]]]
    ) -> LeakageReport:
        """This report and one more check's findings (the model check, after fitting)."""
        if severity == "off":
            return self
        added = [LeakageFinding(check, severity, m, d) for m, d in found]
        return LeakageReport([*self.findings, *added], [*self.checked, check])

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class LeakageInputs:
    """What the checks look at: the data, the split and the column roles."""

    frame: pd.DataFrame
    train: np.ndarray
    eval: np.ndarray
    task: Task
    target: str
    features: list[str]
    id_column: str | None = None
    time_column: str | None = None
    time_split: bool = False
    pii: list[str] = field(default_factory=list)
    post_prediction: list[str] = field(default_factory=list)
    seed: int = 0


def check_leakage(inputs: LeakageInputs, settings: LeakageSettings) -> LeakageReport:
    """Run every data check not set to ``off``; never raises for findings (see
    ``raise_for_errors``)."""
    findings: list[LeakageFinding] = []
    checked: list[str] = []

    def add(check: str, severity: Severity, found: list[tuple[str, dict[str, Any]]]) -> None:
        checked.append(check)
        if severity == "off":
            return
        for message, details in found:
            findings.append(LeakageFinding(check, severity, message, details))

    if settings.forbidden_columns != "off":
        add("forbidden_columns", settings.forbidden_columns, forbidden_features(inputs))
    if settings.target != "off" or settings.combination != "off":
        sample = _sample(inputs)
        if settings.target != "off":
            add("target", settings.target, target_leakage(inputs, settings, sample))
        if settings.combination != "off":
            add("combination", settings.combination, combination_leakage(inputs, settings, sample))
    if settings.contamination != "off":
        add("contamination", settings.contamination, split_contamination(inputs))
    if settings.temporal != "off" and inputs.time_split and inputs.time_column:
        times = inputs.frame[inputs.time_column]
        add("temporal", settings.temporal, temporal_leakage(times, inputs.train, inputs.eval))
    return LeakageReport(findings, checked)


def forbidden_features(inputs: LeakageInputs) -> list[tuple[str, dict[str, Any]]]:
    found = []
    roles = [
        ("pii", inputs.pii, "PII", "never a feature: drop it from the feature definition"),
        (
            "post_prediction",
            inputs.post_prediction,
            "known only after prediction time",
            "it cannot be known when the model predicts: drop it from the feature definition",
        ),
        (
            "id",
            [inputs.id_column] if inputs.id_column else [],
            "the id column",
            "an entity key lets the model memorise entities: drop it from the features",
        ),
    ]
    for role, columns, label, advice in roles:
        used = [c for c in inputs.features if c in columns]
        if used:
            names = ", ".join(map(repr, used))
            found.append(
                (
                    f"feature(s) {names} {'is' if len(used) == 1 else 'are'} marked {label} "
                    f"in [columns]; {advice}",
                    {"role": role, "columns": used},
                )
            )
    return found


def _sample(inputs: LeakageInputs) -> pd.DataFrame:
    """The training rows the target checks score (seeded sample above ``MAX_CHECK_ROWS``)."""
    frame = inputs.frame.iloc[inputs.train]
    if len(frame) > MAX_CHECK_ROWS:
        frame = frame.sample(MAX_CHECK_ROWS, random_state=inputs.seed)
    return frame[frame[inputs.target].notna()]


def target_leakage(
    inputs: LeakageInputs, settings: LeakageSettings, frame: pd.DataFrame | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Each feature alone against the target (see :func:`.leakage_scores.feature_score`)."""
    frame = _sample(inputs) if frame is None else frame
    target = Target.of(frame[inputs.target], inputs.task)
    found = []
    for column in inputs.features:
        scored = feature_score(frame[column], target, seed=inputs.seed)
        if scored is None:
            continue
        if scored.metric == "r2":
            hit = _regression_hit(scored, settings)
            if hit is None:
                continue
            setting, threshold = hit
            correlation = (
                f"; |correlation| {scored.correlation:.4f}"
                if scored.correlation is not None
                else ""
            )
            evidence = (
                f"explains the target {inputs.target!r} with R² {scored.score:.4f} "
                f"(cross-validated single-feature model{correlation}; threshold "
                f"{setting} = {threshold})"
            )
        else:
            if scored.score < settings.auc_threshold:
                continue
            setting, threshold = "auc_threshold", settings.auc_threshold
            label = "ROC AUC" if scored.metric == "roc_auc" else "one-vs-rest ROC AUC"
            evidence = (
                f"predicts the target {inputs.target!r} with {label} {scored.score:.4f} "
                f"(threshold {setting} = {threshold})"
            )
        found.append(
            (
                f"feature {column!r} alone {evidence} on {len(frame)} training rows; if it "
                "is only known after the outcome, list it in [columns] post_prediction, or "
                'set [training.leakage] target = "warn" if this is expected',
                {
                    "column": column,
                    "columns": [column],
                    "metric": scored.metric,
                    "score": scored.score,
                    "correlation": scored.correlation,
                    "threshold": threshold,
                    "setting": f"[training.leakage] {setting}",
                    "rows": len(frame),
                },
            )
        )
    return found


def _regression_hit(scored: FeatureScore, settings: LeakageSettings) -> tuple[str, float] | None:
    if scored.score >= settings.r2_threshold:
        return "r2_threshold", settings.r2_threshold
    if scored.correlation is not None and scored.correlation >= settings.correlation_threshold:
        return "correlation_threshold", settings.correlation_threshold
    return None


def combination_leakage(
    inputs: LeakageInputs, settings: LeakageSettings, frame: pd.DataFrame | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A few numeric features whose linear fit explains a regression target almost exactly."""
    if inputs.task != "regression":
        return []
    frame = _sample(inputs) if frame is None else frame
    found = linear_combination(
        frame,
        inputs.features,
        frame[inputs.target].to_numpy(dtype=np.float64),
        threshold=settings.combination_threshold,
        seed=inputs.seed,
    )
    if found is None:
        return []
    names = ", ".join(map(repr, found.columns))
    return [
        (
            f"features {names} together explain the target {inputs.target!r} almost exactly: "
            f"the linear fit {found.formula(inputs.target)} has R² {found.r2:.4f} on held-out "
            f"training rows (threshold combination_threshold = "
            f"{settings.combination_threshold}); if the target is computed from them, drop "
            "them from the features (or list them in [columns] post_prediction), or set "
            '[training.leakage] combination = "warn" if this is expected',
            {
                "columns": found.columns,
                "metric": "r2",
                "score": found.r2,
                "coefficients": found.coefficients,
                "intercept": found.intercept,
                "threshold": settings.combination_threshold,
                "setting": "[training.leakage] combination_threshold",
                "rows": len(frame),
            },
        )
    ]


def single_feature_score(x: pd.Series, y: pd.Series, task: Task) -> tuple[str, float] | None:
    """How well ``x`` alone predicts ``y``; ``None`` when it cannot be measured fairly."""
    keep = y.notna().to_numpy()
    scored = feature_score(x[keep], Target.of(y[keep], task))
    return None if scored is None else (scored.metric, scored.score)


def split_contamination(inputs: LeakageInputs) -> list[tuple[str, dict[str, Any]]]:
    """Ids or exact rows on both sides of the split.

    With a time split a recurring id is not contamination: the evaluation asks what the
    model will face, the entity's later history, so it is not flagged.
    """
    found = []
    frame, train, evaluate = inputs.frame, inputs.train, inputs.eval
    if inputs.id_column and not inputs.time_split:
        found += _shared_ids(inputs)
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    copies = np.isin(hashes[evaluate], hashes[train])
    duplicated = [int(p) for p in evaluate[copies]]
    if duplicated:
        found.append(
            (
                f"{len(duplicated)} evaluation row(s) are exact copies of training rows "
                f"(rows {', '.join(map(str, duplicated[:EXAMPLES]))}); remove duplicate rows "
                'before snapshotting, or set [training.leakage] contamination = "warn" if '
                "identical rows occur naturally in the data",
                {
                    "kind": "row",
                    "count": len(duplicated),
                    "examples": duplicated[:EXAMPLES],
                    "setting": "[training.leakage] contamination",
                },
            )
        )
    return found


def _shared_ids(inputs: LeakageInputs) -> list[tuple[str, dict[str, Any]]]:
    column = inputs.id_column
    assert column is not None
    ids = inputs.frame[column]
    shared = pd.Index(ids.iloc[inputs.train].dropna().unique()).intersection(
        pd.Index(ids.iloc[inputs.eval].dropna().unique())
    )
    if not len(shared):
        return []
    examples = [_plain(v) for v in shared[:EXAMPLES]]
    if inputs.time_column:
        fix = (
            f"if the rows are each entity's history over time, split by time: set "
            f'[training.split] method = "time" (time column {inputs.time_column!r}), where '
            "recurring ids are not contamination"
        )
        setting = "[training.split] method"
    else:
        fix = (
            "if the rows are each entity's history over time, set [columns] time and "
            '[training.split] method = "time", where recurring ids are not contamination'
        )
        setting = "[columns] time"
    return [
        (
            f"{len(shared)} id(s) of column {column!r} appear in both the training and the "
            f"evaluation rows of the random split (e.g. {', '.join(map(str, examples))}); "
            f"the evaluation would reward memorising entities: {fix}; deduplicate the data if "
            'they are copies, or set [training.leakage] contamination = "warn" to accept them',
            {
                "kind": "id",
                "column": column,
                "count": len(shared),
                "examples": examples,
                "setting": setting,
            },
        )
    ]


def too_good_to_be_true(
    *,
    task: Task,
    y_true: np.ndarray,
    model: tuple[np.ndarray, np.ndarray | None],
    baseline: tuple[np.ndarray, np.ndarray | None],
    classes: list[Any],
    positive: Any = None,
    settings: LeakageSettings,
) -> list[tuple[str, dict[str, Any]]]:
    """The trained model's evaluation score against the task's usual range.

    ``model`` and ``baseline`` are each ``(labels, class probabilities or None)`` on the
    evaluation rows. Regression: R² ≥ ``too_good_r2``; classification: ROC AUC
    (binary, of ``positive``; macro one-vs-rest for multiclass) or, without
    probabilities, balanced accuracy ≥ ``too_good_auc``. Needs ``MIN_TOO_GOOD_ROWS``
    evaluation rows (of each class): a perfect score on a few rows proves nothing.
    """
    if task == "regression":
        if len(y_true) < MIN_TOO_GOOD_ROWS:
            return []
        y = y_true.astype(np.float64)
        scored = r_squared(y, model[0].astype(np.float64))
        if scored is None or scored < settings.too_good_r2:
            return []
        base = r_squared(y, baseline[0].astype(np.float64))
        rmse = float(np.sqrt(np.mean((y - model[0]) ** 2)))
        base_rmse = float(np.sqrt(np.mean((y - baseline[0]) ** 2)))
        return [
            _too_good(
                "R²",
                scored,
                base,
                setting="too_good_r2",
                threshold=settings.too_good_r2,
                rows=len(y),
                extra=f"; RMSE {rmse:.4g} vs the baseline's {base_rmse:.4g}",
            )
        ]
    counts = pd.Series(y_true).value_counts()
    if len(counts) < len(classes) or int(counts.min()) < MIN_TOO_GOOD_ROWS:
        return []
    metric, scored = _classification_score(y_true, *model, classes, positive)
    if scored < settings.too_good_auc:
        return []
    _, base = _classification_score(y_true, *baseline, classes, positive)
    return [
        _too_good(
            metric,
            scored,
            base,
            setting="too_good_auc",
            threshold=settings.too_good_auc,
            rows=len(y_true),
            extra="",
        )
    ]


def _classification_score(
    y_true: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray | None,
    classes: list[Any],
    positive: Any,
) -> tuple[str, float]:
    if scores is None:
        recalls = [float(np.mean(labels[y_true == c] == c)) for c in classes]
        return "balanced accuracy", float(np.mean(recalls))
    if len(classes) == 2:
        index = classes.index(positive) if positive is not None else 1
        return "ROC AUC", roc_auc(scores[:, index], y_true == classes[index])
    aucs = [roc_auc(scores[:, k], y_true == c) for k, c in enumerate(classes)]
    return "one-vs-rest ROC AUC", float(np.mean(aucs))


def _too_good(
    metric: str,
    scored: float,
    baseline: float | None,
    *,
    setting: str,
    threshold: float,
    rows: int,
    extra: str,
) -> tuple[str, dict[str, Any]]:
    base = "n/a" if baseline is None else f"{baseline:.4f}"
    return (
        f"the trained model is too good to be true: {metric} {scored:.4f} on {rows} "
        f"evaluation rows (baseline {base}{extra}), at or above {setting} = {threshold}, "
        "beyond what this kind of task reaches without a leak; look for a feature known "
        "only after the outcome or computed from the target (the target and combination "
        'checks name the likely ones), or set [training.leakage] too_good = "warn" (or '
        f"raise {setting}) if this score is genuine",
        {
            "metric": metric,
            "score": scored,
            "baseline": baseline,
            "threshold": threshold,
            "rows": rows,
            "setting": f"[training.leakage] {setting}",
        },
    )


def temporal_leakage(
    times: pd.Series, train: np.ndarray, evaluate: np.ndarray
) -> list[tuple[str, dict[str, Any]]]:
    """Training rows at or after the first evaluation time (with a time-based split)."""
    eval_times = times.iloc[evaluate].dropna()
    if eval_times.empty:
        return []
    start = eval_times.min()
    train_times = times.iloc[train]
    late = train_times[train_times >= start]
    if late.empty:
        return []
    positions = [int(train[i]) for i in np.flatnonzero((train_times >= start).to_numpy())]
    return [
        (
            f"{len(late)} training row(s) are at or after the evaluation start "
            f"{_plain(start)} (latest {_plain(late.max())}, rows "
            f"{', '.join(map(str, positions[:EXAMPLES]))}); the model would learn from the "
            "future it is evaluated on",
            {
                "count": len(late),
                "eval_start": _plain(start),
                "latest_training_time": _plain(late.max()),
                "examples": positions[:EXAMPLES],
            },
        )
    ]


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a pandas/NumPy scalar."""
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
