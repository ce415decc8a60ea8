"""Leakage checks, run before every training.

Four checks, each set to ``"error"`` (refuse to train), ``"warn"`` (train, and record the
finding in the run) or ``"off"`` in ``[training.leakage]``:

- **target**: one feature alone predicts the target almost perfectly (binary: single
  feature ROC AUC ≥ ``auc_threshold``; multiclass: one-vs-rest macro AUC of the feature's
  per-bin class shares; regression: |Pearson correlation| ≥ ``correlation_threshold``).
  Measured on the training rows only.
- **contamination**: the same id, or the same exact row, in both training and evaluation.
- **temporal**: with a time split, a training row at or after the evaluation start.
- **forbidden_columns**: a PII, post-prediction or id column used as a feature.

Each finding names the column(s) and the score or count, and says what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from stead.core.errors import SpecError
from stead.features.settings import LeakageSettings as LeakageSettings
from stead.features.settings import Severity as Severity

Task = Literal["binary", "multiclass", "regression"]

# Above this many training rows the target check samples (seeded): at 50,000 rows an AUC
# near the 0.99 threshold has a standard error under 0.001, and the check stays a small
# fixed cost (a sort per feature).
MAX_CHECK_ROWS = 50_000
# Binned or categorical encodings use at least this many rows per bin/level on average,
# so that a feature cannot look predictive just by memorising tiny groups.
MIN_ROWS_PER_LEVEL = 50
MAX_BINS = 100
EXAMPLES = 5


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
    """Run every check not set to ``off``; never raises for findings (see ``raise_for_errors``)."""
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
    if settings.target != "off":
        add("target", settings.target, target_leakage(inputs, settings))
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


def target_leakage(
    inputs: LeakageInputs, settings: LeakageSettings
) -> list[tuple[str, dict[str, Any]]]:
    frame = inputs.frame.iloc[inputs.train]
    if len(frame) > MAX_CHECK_ROWS:
        frame = frame.sample(MAX_CHECK_ROWS, random_state=inputs.seed)
    frame = frame[frame[inputs.target].notna()]
    target = _Target.of(frame[inputs.target], inputs.task)
    found = []
    for column in inputs.features:
        scored = _score(frame[column], target)
        if scored is None:
            continue
        metric, score = scored
        threshold = (
            settings.correlation_threshold
            if metric == "abs_correlation"
            else settings.auc_threshold
        )
        if score >= threshold:
            label = "|correlation|" if metric == "abs_correlation" else "ROC AUC"
            found.append(
                (
                    f"feature {column!r} alone predicts the target {inputs.target!r} with "
                    f"{label} {score:.4f} (threshold {threshold}) on the training rows; if "
                    "it is only known after the outcome, list it in [columns] "
                    'post_prediction, or set [training.leakage] target = "warn" if this '
                    "is expected",
                    {"column": column, "metric": metric, "score": score, "threshold": threshold},
                )
            )
    return found


@dataclass(frozen=True)
class _Target:
    """The target, prepared once for scoring every feature against it."""

    task: Task
    values: np.ndarray  # float targets (regression) or class codes
    n_classes: int

    @classmethod
    def of(cls, y: pd.Series, task: Task) -> _Target:
        if task == "regression":
            return cls(task, y.to_numpy(dtype=np.float64), 0)
        classes, codes = np.unique(y.to_numpy(), return_inverse=True)
        return cls(task, codes, len(classes))

    def subset(self, keep: np.ndarray) -> _Target:
        return _Target(self.task, self.values[keep], self.n_classes)


def single_feature_score(x: pd.Series, y: pd.Series, task: Task) -> tuple[str, float] | None:
    """How well ``x`` alone predicts ``y``; ``None`` when it cannot be measured fairly."""
    keep = y.notna().to_numpy()
    return _score(x[keep], _Target.of(y[keep], task))


def _score(x: pd.Series, target: _Target) -> tuple[str, float] | None:
    present = x.notna().to_numpy()
    if not present.all():
        x, target = x[present], target.subset(present)
    if len(x) < 2:
        return None
    numeric = _as_numeric(x)
    if numeric is not None and numeric.min() == numeric.max():
        return None
    if target.task == "regression":
        values = numeric if numeric is not None else _level_means(x, target.values)
        if values is None or np.std(values) == 0 or np.std(target.values) == 0:
            return None
        return "abs_correlation", float(abs(np.corrcoef(values, target.values)[0, 1]))
    if target.n_classes == 2:
        positive = target.values == 1
        values = numeric if numeric is not None else _level_means(x, positive.astype(float))
        if values is None:
            return None
        auc = _auc(values, positive)
        return "roc_auc", max(auc, 1.0 - auc)
    groups = _groups(x, numeric)
    if groups is None:
        return None
    return "roc_auc_ovr", _multiclass_auc(groups, target.values, target.n_classes)


def _as_numeric(x: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(x.dtype) or pd.api.types.is_numeric_dtype(x.dtype):
        return x.to_numpy(dtype=np.float64)
    if pd.api.types.is_datetime64_any_dtype(x.dtype):
        return x.astype("int64").to_numpy(dtype=np.float64)
    return None


def _level_means(x: pd.Series, target: np.ndarray) -> np.ndarray | None:
    """Each row's level replaced by its level's mean target (in-sample)."""
    codes, levels = pd.factorize(x.astype(str))
    if len(levels) > max(2, len(x) // MIN_ROWS_PER_LEVEL):
        return None  # too many small levels to tell leakage from memorisation
    sums = np.bincount(codes, weights=target, minlength=len(levels))
    counts = np.bincount(codes, minlength=len(levels))
    means: np.ndarray = (sums / counts)[codes]
    return means


def _groups(x: pd.Series, numeric: np.ndarray | None) -> np.ndarray | None:
    limit = max(2, len(x) // MIN_ROWS_PER_LEVEL)
    if numeric is None:
        codes, levels = pd.factorize(x.astype(str))
        return None if len(levels) > limit else codes
    bins = min(MAX_BINS, limit)
    edges = np.unique(np.quantile(numeric, np.linspace(0, 1, bins + 1)[1:-1]))
    grouped: np.ndarray = np.searchsorted(edges, numeric, side="right")
    return grouped


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by ranks (ties count half), as the Mann-Whitney U statistic."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _multiclass_auc(groups: np.ndarray, codes: np.ndarray, n_classes: int) -> float:
    """Macro one-vs-rest AUC of each group's class shares (in-sample)."""
    table = np.zeros((int(groups.max()) + 1, n_classes))
    np.add.at(table, (groups, codes), 1.0)
    shares = table / table.sum(axis=1, keepdims=True)
    aucs = [_auc(shares[groups, k], codes == k) for k in range(n_classes)]
    return float(np.mean(aucs))


def split_contamination(inputs: LeakageInputs) -> list[tuple[str, dict[str, Any]]]:
    found = []
    frame, train, evaluate = inputs.frame, inputs.train, inputs.eval
    if inputs.id_column:
        ids = frame[inputs.id_column]
        shared = pd.Index(ids.iloc[train].dropna().unique()).intersection(
            pd.Index(ids.iloc[evaluate].dropna().unique())
        )
        if len(shared):
            examples = [_plain(v) for v in shared[:EXAMPLES]]
            found.append(
                (
                    f"{len(shared)} id(s) of column {inputs.id_column!r} appear in both the "
                    f"training and the evaluation rows (e.g. {', '.join(map(str, examples))}); "
                    "the evaluation would reward memorising entities: deduplicate the data, "
                    'or set [training.leakage] contamination = "warn" if repeated ids are '
                    "expected",
                    {
                        "kind": "id",
                        "column": inputs.id_column,
                        "count": len(shared),
                        "examples": examples,
                    },
                )
            )
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    copies = np.isin(hashes[evaluate], hashes[train])
    duplicated = [int(p) for p in evaluate[copies]]
    if duplicated:
        found.append(
            (
                f"{len(duplicated)} evaluation row(s) are exact copies of training rows "
                f"(rows {', '.join(map(str, duplicated[:EXAMPLES]))}); remove duplicate rows "
                "before snapshotting",
                {"kind": "row", "count": len(duplicated), "examples": duplicated[:EXAMPLES]},
            )
        )
    return found


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
