"""How well features predict the target: the evidence behind the target and combination checks.

Two measures, both on the (sampled) training rows:

- :func:`feature_score`: one feature alone, as a reviewer would try it: an in-sample
  rank score (ROC AUC of the raw values, |Pearson correlation|) and a *cross-validated
  single-feature model* — the feature cut into quantile bins (categories as they are),
  each bin predicting its mean target learnt on the other folds. The binned model sees
  relations a correlation misses (non-monotone, a copy of the target with noise) and,
  being scored out of fold, cannot look good by memorising small bins.
- :func:`linear_combination`: a least-squares fit of a regression target on the numeric
  features, scored on held-out rows; when it explains the target almost exactly, a
  forward-then-backward selection names the few columns that do it
  (``casual + registered = bikers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

Task = Literal["binary", "multiclass", "regression"]

# Binned or categorical encodings use at least this many rows per bin/level on average,
# so that a feature cannot look predictive just by memorising tiny groups.
MIN_ROWS_PER_LEVEL = 50
MAX_BINS = 100
FOLDS = 3
# A combination is "small" when a reviewer can read it: at most this many columns.
MAX_COMBINATION = 4
MIN_COMBINATION_ROWS = 50


@dataclass(frozen=True)
class Target:
    """The target, prepared once for scoring every feature against it."""

    task: Task
    values: np.ndarray  # float targets (regression) or class codes
    n_classes: int

    @classmethod
    def of(cls, y: pd.Series, task: Task) -> Target:
        if task == "regression":
            return cls(task, y.to_numpy(dtype=np.float64), 0)
        classes, codes = np.unique(y.to_numpy(), return_inverse=True)
        return cls(task, codes, len(classes))

    def subset(self, keep: np.ndarray) -> Target:
        return Target(self.task, self.values[keep], self.n_classes)


@dataclass(frozen=True)
class FeatureScore:
    """``score`` is what the threshold is compared with: ROC AUC (binary), macro
    one-vs-rest ROC AUC (multiclass) or R² (regression, the larger of the binned model's
    cross-validated R² and the squared correlation)."""

    metric: Literal["roc_auc", "roc_auc_ovr", "r2"]
    score: float
    correlation: float | None = None  # regression, numeric feature: |Pearson r|


def feature_score(x: pd.Series, target: Target, *, seed: int = 0) -> FeatureScore | None:
    """How well ``x`` alone predicts the target; ``None`` when it cannot be measured fairly
    (constant, too few rows, or a category with too many small levels)."""
    present = x.notna().to_numpy()
    if not present.all():
        x, target = x[present], target.subset(present)
    if len(x) < 2:
        return None
    numeric = _as_numeric(x)
    if numeric is not None and numeric.min() == numeric.max():
        return None
    groups = _groups(x, numeric)
    binned = None if groups is None else _binned_model_score(groups, target, seed)
    if target.task == "regression":
        if np.std(target.values) == 0:
            return None
        correlation = None
        if numeric is not None:
            correlation = float(abs(np.corrcoef(numeric, target.values)[0, 1]))
        squared = None if correlation is None else correlation**2
        candidates = [s for s in (binned, squared) if s is not None]
        if not candidates:
            return None
        return FeatureScore("r2", max(candidates), correlation)
    if target.n_classes == 2:
        positive = target.values == 1
        values = numeric if numeric is not None else _level_means(x, positive.astype(float))
        ranked = None if values is None else roc_auc(values, positive)
        scores = [s for s in (ranked, binned) if s is not None]
        if not scores:
            return None
        return FeatureScore("roc_auc", max(max(s, 1.0 - s) for s in scores))
    if groups is None or binned is None:
        return None
    return FeatureScore("roc_auc_ovr", binned)


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


def _binned_model_score(groups: np.ndarray, target: Target, seed: int) -> float | None:
    """The out-of-fold score of "each bin predicts its mean target (class shares)"."""
    n = len(groups)
    if n < FOLDS * 2:
        return None
    if target.task == "multiclass":
        values = np.eye(target.n_classes)[target.values]
    elif target.task == "binary":
        values = (target.values == 1).astype(np.float64)[:, None]
    else:
        values = target.values[:, None]
    fold = np.random.default_rng(seed).permutation(n) % FOLDS
    n_groups = int(groups.max()) + 1
    totals = np.zeros((n_groups, values.shape[1]))
    np.add.at(totals, groups, values)
    counts = np.bincount(groups, minlength=n_groups).astype(np.float64)
    predicted = np.empty_like(values)
    for k in range(FOLDS):
        held = fold == k
        sums = totals.copy()
        np.add.at(sums, groups[held], -values[held])
        seen = counts - np.bincount(groups[held], minlength=n_groups)
        fallback = values[~held].mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(seen[:, None] > 0, sums / seen[:, None], fallback)
        predicted[held] = means[groups[held]]
    if target.task == "regression":
        return r_squared(target.values, predicted[:, 0])
    if target.task == "binary":
        return roc_auc(predicted[:, 0], target.values == 1)
    aucs = [roc_auc(predicted[:, k], target.values == k) for k in range(target.n_classes)]
    return float(np.mean(aucs))


def r_squared(y: np.ndarray, predicted: np.ndarray) -> float | None:
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return None
    return 1.0 - float(np.sum((y - predicted) ** 2)) / total


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by ranks (ties count half), as the Mann-Whitney U statistic."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class Combination:
    """A few numeric columns whose linear fit explains a regression target almost exactly."""

    columns: list[str]
    r2: float  # on held-out rows
    coefficients: dict[str, float]
    intercept: float

    def formula(self, target: str) -> str:
        terms = " + ".join(f"{c:.3g}·{name}" for name, c in self.coefficients.items())
        return f"{target} ≈ {terms} + {self.intercept:.3g}"


def linear_combination(
    frame: pd.DataFrame, features: list[str], y: np.ndarray, *, threshold: float, seed: int = 0
) -> Combination | None:
    """The smallest set of numeric ``features`` (found greedily) whose least-squares fit
    has held-out R² ≥ ``threshold``, when it has two or more columns; else ``None``.

    One column alone is the single-feature check's finding, not a combination.
    """
    columns = [c for c in features if _usable_numeric(frame[c])]
    if len(columns) < 2 or len(y) < MIN_COMBINATION_ROWS or np.std(y) == 0:
        return None
    X = np.column_stack([_filled(frame[c]) for c in columns])
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    fold = np.random.default_rng(seed).permutation(len(y)) % 2

    def held_out_r2(chosen: list[int]) -> float:
        return _held_out_r2(X[:, chosen], y, fold)

    everything = list(range(len(columns)))
    if held_out_r2(everything) < threshold:
        return None  # fast path: no subset explains more than all of them (up to noise)
    chosen: list[int] = []
    best = -np.inf
    while len(chosen) < MAX_COMBINATION and best < threshold:
        scores = {i: held_out_r2([*chosen, i]) for i in everything if i not in chosen}
        pick = max(scores, key=lambda i: scores[i])
        chosen.append(pick)
        best = scores[pick]
    if best < threshold:
        chosen, best = everything, held_out_r2(everything)
    for i in list(chosen):  # backward: drop what the fit does not need
        rest = [j for j in chosen if j != i]
        if len(rest) >= 2 and (score := held_out_r2(rest)) >= threshold:
            chosen, best = rest, score
    if len(chosen) < 2:
        return None
    raw = np.column_stack([_filled(frame[columns[i]]) for i in chosen])
    solution = _least_squares(np.column_stack([raw, np.ones(len(y))]), y)
    return Combination(
        columns=[columns[i] for i in chosen],
        r2=float(best),
        coefficients={columns[i]: float(c) for i, c in zip(chosen, solution[:-1], strict=True)},
        intercept=float(solution[-1]),
    )


def _usable_numeric(x: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(x.dtype):
        return False
    numeric = _as_numeric(x)
    if numeric is None or np.isnan(numeric).all():
        return False
    return bool(np.nanstd(numeric) > 0)


def _filled(x: pd.Series) -> np.ndarray:
    values = x.to_numpy(dtype=np.float64)
    missing = np.isnan(values)
    if missing.any():
        values = np.where(missing, np.nanmedian(values), values)
    return values


def _held_out_r2(X: np.ndarray, y: np.ndarray, fold: np.ndarray) -> float:
    """R² of a least-squares fit (with intercept), each half predicted by the other."""
    design = np.column_stack([X, np.ones(len(y))])
    predicted = np.empty(len(y))
    for k in (0, 1):
        fit, held = fold != k, fold == k
        predicted[held] = design[held] @ _least_squares(design[fit], y[fit])
    return r_squared(y, predicted) or 0.0


def _least_squares(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares through the normal equations: a few columns, many rows. An SVD of
    the whole design (``lstsq``) costs 30× more on a busy machine's BLAS thread pool."""
    solution: np.ndarray = np.linalg.lstsq(design.T @ design, design.T @ y, rcond=None)[0]
    return solution
