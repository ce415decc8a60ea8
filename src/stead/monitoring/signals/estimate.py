"""Model layer: performance *estimated* before labels arrive (confidence-based, as
NannyML's CBPE does).

If the model's probabilities are calibrated, a prediction made with probability ``q`` of
the positive class is right with probability ``max(q, 1 - q)``; summing over a window
gives the expected accuracy, and treating each row as positive with probability ``q``
gives expected true- and false-positive counts at every threshold, hence an expected
ROC AUC. The probabilities are first passed through the isotonic calibration fitted on
the version's evaluation rows (``reference.py``).

What it can and cannot see: a drop caused by inputs moving to where the model is less
sure (covariate shift) shows; a change in how inputs relate to the outcome (concept
drift) does not, because the model is as confident as before while being wrong. The
estimate is therefore shown as an estimate, with a standard error, and the policy uses it
only when it is confidently below the tolerance; measured performance overrides it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm

from stead.monitoring.drift.reference import VersionReference
from stead.monitoring.records import SignalResult
from stead.registry.settings import better

ESTIMABLE = ("roc_auc", "accuracy")


def estimated_performance(
    probabilities: np.ndarray | None,
    reference: VersionReference,
    *,
    metric: str,
    tolerance: float,
    min_rows: int,
    confidence: float,
) -> SignalResult:
    """The estimated performance of one window.

    Args:
        probabilities: the production version's probabilities in the window, one column
            per class in ``reference.classes`` order; ``None`` when it gives none.
        reference: the version's reference (calibration and training metrics).
        metric: the metric the monitor judges by; ``roc_auc`` or ``accuracy`` are
            estimated, others fall back to whichever of them training recorded.
        tolerance: how much worse than training still counts as fine.
        min_rows: fewer rows give no estimate.
        confidence: how sure the estimate must be that performance is below the
            tolerance for the result to be an alert.
    """
    chosen = _metric(reference, metric)
    if probabilities is None or chosen is None or reference.task == "regression":
        return SignalResult(
            "estimated_performance",
            "unavailable",
            {"metric": chosen},
            message="performance can be estimated only for classifiers with probabilities",
        )
    rows = int(probabilities.shape[0])
    training = reference.metrics.get(chosen)
    summary: dict[str, Any] = {
        "metric": chosen,
        "rows": rows,
        "training": training,
        "tolerance": tolerance,
        "calibrated": reference.calibration is not None,
        "estimate": None,
    }
    if rows < min_rows:
        return SignalResult(
            "estimated_performance",
            "insufficient_data",
            summary,
            message=f"{rows} predictions: too few to estimate performance (min {min_rows})",
        )
    if reference.task == "binary":
        raw = probabilities[:, 1]
        q = reference.calibration(raw) if reference.calibration else raw
        if chosen == "roc_auc":
            estimate, se = expected_roc_auc(raw, q)
        else:
            correct = np.where(raw > 0.5, q, 1.0 - q)
            estimate, se = _mean_and_se(correct)
    else:
        top = probabilities.max(axis=1)
        q = reference.calibration(top) if reference.calibration else top
        estimate, se = _mean_and_se(q)
    summary.update({"estimate": estimate, "se": se})
    if estimate is None or training is None:
        return SignalResult(
            "estimated_performance",
            "ok" if estimate is not None else "insufficient_data",
            summary,
            message="estimated "
            + (f"{chosen} {estimate:.4f}" if estimate is not None else f"{chosen}: undefined"),
        )
    limit = training - tolerance if better(chosen, 1.0, 0.0) > 0 else training + tolerance
    drop_probability = (
        float(norm.cdf((limit - estimate) / se)) if se > 0 else float(estimate < limit)
    )
    gap = better(chosen, estimate, training)
    confident = drop_probability >= confidence
    summary.update(
        {
            "gap": gap,
            "low": estimate - 1.96 * se,
            "high": estimate + 1.96 * se,
            "drop_probability": drop_probability,
            "confident_drop": confident,
        }
    )
    message = (
        f"estimated {chosen} {estimate:.4f} ± {1.96 * se:.4f} (95%) vs {training:.4f} at "
        f"training; P(below tolerance) = {drop_probability:.2f}"
    )
    return SignalResult(
        "estimated_performance", "alert" if confident else "ok", summary, message=message
    )


def expected_roc_auc(scores: np.ndarray, q: np.ndarray) -> tuple[float | None, float]:
    """The ROC AUC expected when row ``i`` is positive with probability ``q[i]``.

    Pairs of one positive and one negative are ranked by ``scores``; ties count half, and
    a row is never paired with itself. Returns the estimate and a Hanley–McNeil standard
    error at the expected class counts.
    """
    order = np.argsort(scores, kind="stable")
    s, q = scores[order], q[order]
    neg = 1.0 - q
    unique, starts = np.unique(s, return_index=True)
    q_group = np.add.reduceat(q, starts)
    n_group = np.add.reduceat(neg, starts)
    self_group = np.add.reduceat(q * neg, starts)
    negatives_below = np.concatenate([[0.0], np.cumsum(n_group)[:-1]])
    numerator = float(np.sum(q_group * negatives_below + 0.5 * (q_group * n_group - self_group)))
    positives, negatives = float(q.sum()), float(neg.sum())
    pairs = positives * negatives - float((q * neg).sum())
    if pairs <= 0 or len(unique) < 2:
        return None, 0.0
    auc = numerator / pairs
    return auc, _hanley_mcneil(auc, positives, negatives)


def _hanley_mcneil(auc: float, positives: float, negatives: float) -> float:
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / max(positives * negatives, 1.0)
    return math.sqrt(max(variance, 0.0))


def _mean_and_se(p: np.ndarray) -> tuple[float, float]:
    # A sum of independent Bernoulli(p_i): its mean's variance is Σ p(1 - p) / n².
    n = len(p)
    return float(p.mean()), math.sqrt(float((p * (1 - p)).sum())) / n


def _metric(reference: VersionReference, metric: str) -> str | None:
    if metric in ESTIMABLE and (reference.task == "binary" or metric == "accuracy"):
        return metric
    if reference.task == "binary" and reference.metrics.get("roc_auc") is not None:
        return "roc_auc"
    if reference.metrics.get("accuracy") is not None:
        return "accuracy"
    return "roc_auc" if reference.task == "binary" else "accuracy"
