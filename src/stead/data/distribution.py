"""Distribution arithmetic shared by profiles, snapshot diffs and (later) drift monitors.

Numeric columns are summarised by *inner* bin edges ``e_0 < ... < e_{k-1}`` taken from
reference quantiles; bin ``i`` holds values in ``(e_{i-1}, e_i]`` with open outer bins, so
any later value (even far outside the reference range) falls in exactly one bin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# Share given to an empty bin so PSI and JS stay finite (a common convention).
EPSILON = 1e-4
QUANTILE_GRID = np.linspace(0.0, 1.0, 101)


def bin_counts(values: np.ndarray, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Counts of finite ``values`` per bin, for inner ``edges`` (len(edges) + 1 bins)."""
    edges = np.asarray(edges, dtype=np.float64)
    values = values[np.isfinite(values)]
    positions = np.searchsorted(edges, values, side="left")
    return np.bincount(positions, minlength=edges.size + 1)


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total == 0:
        return np.full(counts.shape, 1.0 / max(len(counts), 1))
    return np.clip(counts / total, EPSILON, None)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index between two count vectors over the same bins."""
    ref = shares(np.asarray(reference_counts, dtype=np.float64))
    cur = shares(np.asarray(current_counts, dtype=np.float64))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(reference: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between two level-count maps."""
    levels = sorted(set(reference) | set(current))
    p = np.array([reference.get(level, 0.0) for level in levels], dtype=np.float64)
    q = np.array([current.get(level, 0.0) for level in levels], dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def cdf_at(quantiles: Sequence[float], points: np.ndarray) -> np.ndarray:
    """The CDF implied by a 101-point quantile grid, evaluated at ``points``."""
    grid = np.asarray(quantiles, dtype=np.float64)
    return np.interp(points, grid, QUANTILE_GRID, left=0.0, right=1.0)
