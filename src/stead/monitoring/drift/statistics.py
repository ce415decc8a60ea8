"""Drift statistics: small estimator-style components, each comparing one column.

Each statistic takes its parameters in ``__init__`` and keeps them unchanged (they are
frozen dataclasses), and ``measure(reference, window)`` is a pure function of the
reference :class:`~stead.data.profile.ColumnProfile` and a window summary from
:mod:`stead.monitoring.drift.column_pass`. None of them reads the training data again.

Effect sizes say how far a column moved (``PSI``, ``Wasserstein``, ``JensenShannon``,
``UnseenRate``); tests say whether the window is large enough to tell the move from noise
(``KolmogorovSmirnov``, ``ChiSquare``) and are used only in small windows.

Example:
    >>> import numpy as np
    >>> import pandas as pd
    >>> from stead.data.profile import profile_column
    >>> from stead.monitoring.drift.column_pass import summarise_numeric
    >>> rng = np.random.default_rng(0)
    >>> reference = profile_column(pd.Series(rng.normal(size=10_000)), "float", bins=20)
    >>> window = summarise_numeric(rng.normal(1.0, size=5_000), reference)
    >>> PSI(threshold=0.2).measure(reference, window).crossed
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from scipy import stats

from stead.data.distribution import js_distance, psi
from stead.data.profile import OTHER_LEVEL, ColumnProfile
from stead.monitoring.drift.column_pass import UNSEEN_LEVEL, CategoricalWindow, NumericWindow
from stead.monitoring.drift.report import ColumnKind, StatisticResult
from stead.monitoring.drift.thresholds import DriftConfig, check_parameter

WindowT = TypeVar("WindowT", NumericWindow, CategoricalWindow)


class DriftStatistic(ABC, Generic[WindowT]):
    """A statistic comparing a window's column with its reference profile."""

    name: ClassVar[str]
    kind: ClassVar[ColumnKind]
    # Tests give p-values; they decide only in small windows (see DriftConfig).
    is_test: ClassVar[bool] = False

    @abstractmethod
    def measure(self, reference: ColumnProfile, window: WindowT) -> StatisticResult:
        """The statistic for one window; pure (same inputs, same result)."""

    def get_params(self) -> dict[str, Any]:
        """The parameters given to ``__init__``, as given."""
        return asdict(self)  # type: ignore[call-overload]


def _reference_counts(reference: ColumnProfile) -> np.ndarray:
    return np.asarray(reference.bin_counts or [0], dtype=np.float64)


@dataclass(frozen=True)
class PSI(DriftStatistic[NumericWindow]):
    """Population stability index on the reference's equal-frequency bins.

    Args:
        threshold: PSI at or above which the column has shifted (0.2 is the usual
            "significant shift", 0.1 "moderate").
    """

    threshold: float = 0.2
    name: ClassVar[str] = "psi"
    kind: ClassVar[ColumnKind] = "numeric"

    def __post_init__(self) -> None:
        check_parameter(self.name, "threshold", self.threshold)

    def measure(self, reference: ColumnProfile, window: NumericWindow) -> StatisticResult:
        value = psi(_reference_counts(reference), window.bin_counts)
        return StatisticResult(self.name, value, self.threshold, value >= self.threshold)


@dataclass(frozen=True)
class Wasserstein(DriftStatistic[NumericWindow]):
    """Wasserstein-1 distance between the central 98 % of both distributions, in units of
    the reference's spread there.

    ``W1 = ∫|Q_ref(u) − Q_win(u)| du`` is approximated by the mean absolute difference of
    the two quantile functions at the percentiles 1..99 of the profile grid. The outer
    percentiles 0 and 100 are the sample minimum and maximum — single values, not a
    distribution — so they are left out. The distance is divided by the standard
    deviation of the reference's percentiles 1..99, a standard deviation with the outer
    1 % trimmed on each side: for normal data it is 0.96 σ, so a shift of ``d`` standard
    deviations reads about ``1.04 d``.

    Why this scale rather than the plain standard deviation or the IQR: the plain
    standard deviation of a heavy-tailed column is set by its few largest values (a 50 %
    rescaling of a Pareto(1.5) column read 0.03 at a million rows), while the IQR is zero
    for any column more than half one value (counts, flags). The trimmed spread is robust
    to the first and zero only when 98 % of the values are one value; then the plain
    standard deviation is used, and for a constant reference the value is ``None`` (PSI
    still compares the bins).

    Args:
        threshold: distance at or above which the column has shifted.
    """

    threshold: float = 0.1
    name: ClassVar[str] = "wasserstein"
    kind: ClassVar[ColumnKind] = "numeric"

    def __post_init__(self) -> None:
        check_parameter(self.name, "threshold", self.threshold)

    def measure(self, reference: ColumnProfile, window: NumericWindow) -> StatisticResult:
        if not reference.quantiles or window.quantiles is None:
            return StatisticResult(self.name, None, self.threshold, False)
        central = np.asarray(reference.quantiles[1:-1], dtype=np.float64)
        scale = float(central.std()) or (reference.std or 0.0)
        if scale == 0:
            return StatisticResult(self.name, None, self.threshold, False)
        value = float(np.abs(central - window.quantiles[1:-1]).mean() / scale)
        return StatisticResult(self.name, value, self.threshold, value >= self.threshold)


@dataclass(frozen=True)
class KolmogorovSmirnov(DriftStatistic[NumericWindow]):
    """Two-sample Kolmogorov–Smirnov test at the reference's bin edges.

    ``D`` is the largest gap between the reference's and the window's empirical CDFs
    over the reference bin edges, where the profile's bin counts give the reference CDF
    exactly (interpolating the quantile grid instead would invent mass between ties of a
    discrete column and flag it). ``D`` can only be smaller than the full-sample
    statistic, so the p-value (the two-sample asymptotic distribution at the effective
    size ``n·N/(n+N)``, as in ``scipy.stats.ks_2samp``) errs towards "no drift".

    Args:
        alpha: p-value below which the difference is significant.
    """

    alpha: float = 0.01
    name: ClassVar[str] = "ks"
    kind: ClassVar[ColumnKind] = "numeric"
    is_test: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_parameter(self.name, "alpha", self.alpha)

    def measure(self, reference: ColumnProfile, window: NumericWindow) -> StatisticResult:
        ref = _reference_counts(reference)
        cur = np.asarray(window.bin_counts, dtype=np.float64)
        n_ref, n_cur = ref.sum(), cur.sum()
        if n_ref == 0 or n_cur == 0:
            return StatisticResult(self.name, None, self.alpha, False, p_value=1.0)
        gaps = np.cumsum(ref)[:-1] / n_ref - np.cumsum(cur)[:-1] / n_cur
        statistic = float(np.abs(gaps).max()) if gaps.size else 0.0
        effective = max(round(n_ref * n_cur / (n_ref + n_cur)), 1)
        p_value = float(stats.kstwo.sf(statistic, effective))
        return StatisticResult(self.name, statistic, self.alpha, p_value < self.alpha, p_value)


@dataclass(frozen=True)
class JensenShannon(DriftStatistic[CategoricalWindow]):
    """Jensen–Shannon distance (base 2, in [0, 1]) between level shares.

    Args:
        threshold: distance at or above which the column has shifted.
    """

    threshold: float = 0.1
    name: ClassVar[str] = "js_distance"
    kind: ClassVar[ColumnKind] = "categorical"

    def __post_init__(self) -> None:
        check_parameter(self.name, "threshold", self.threshold)

    def measure(self, reference: ColumnProfile, window: CategoricalWindow) -> StatisticResult:
        value = js_distance(
            {k: float(v) for k, v in (reference.level_counts or {}).items()},
            {k: float(v) for k, v in window.level_counts.items()},
        )
        return StatisticResult(self.name, value, self.threshold, value >= self.threshold)


@dataclass(frozen=True)
class ChiSquare(DriftStatistic[CategoricalWindow]):
    """Chi-square test of homogeneity on the 2 × levels table (reference vs window).

    A two-sample test: the reference counts are a sample too. A goodness-of-fit test that
    treats the reference shares as exact flags unshifted columns once windows are large.
    Levels whose expected count is below ``min_expected`` in either row are pooled into
    one cell so the chi-square approximation holds.

    Args:
        alpha: p-value below which the difference is significant.
        min_expected: smallest expected count a level keeps its own cell with.
    """

    alpha: float = 0.01
    min_expected: float = 5.0
    name: ClassVar[str] = "chi_square"
    kind: ClassVar[ColumnKind] = "categorical"
    is_test: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_parameter(self.name, "alpha", self.alpha)
        check_parameter(self.name, "min_expected", self.min_expected)

    def measure(self, reference: ColumnProfile, window: CategoricalWindow) -> StatisticResult:
        ref_levels = reference.level_counts or {}
        levels = sorted(set(ref_levels) | set(window.level_counts))
        table = np.array(
            [
                [ref_levels.get(level, 0) for level in levels],
                [window.level_counts.get(level, 0) for level in levels],
            ],
            dtype=np.float64,
        )
        if OTHER_LEVEL in ref_levels:
            table = _pool_near_cutoff(table, [level == OTHER_LEVEL for level in levels])
        rows = table.sum(axis=1)
        if rows.min() == 0:
            return StatisticResult(self.name, None, self.alpha, False, p_value=1.0)
        # The smaller row has the smaller expected counts; pool where they are too low.
        expected = rows.min() * table.sum(axis=0) / rows.sum()
        rare = expected < self.min_expected
        if rare.any():
            table = np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])
        if table.shape[1] < 2:
            return StatisticResult(self.name, 0.0, self.alpha, False, p_value=1.0)
        result = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
        return StatisticResult(self.name, statistic, self.alpha, p_value < self.alpha, p_value)


@dataclass(frozen=True)
class UnseenRate(DriftStatistic[CategoricalWindow]):
    """Share of a window's values in categories the reference never saw.

    Unknown (``None``) when the reference profile pooled its rarest levels into
    ``__other__``: a level outside the kept ones may have been seen; that shift shows in
    the other statistics through the ``__other__`` share instead.

    Args:
        threshold: rate at or above which the column has shifted.
    """

    threshold: float = 0.01
    name: ClassVar[str] = "unseen_rate"
    kind: ClassVar[ColumnKind] = "categorical"

    def __post_init__(self) -> None:
        check_parameter(self.name, "threshold", self.threshold)

    def measure(self, reference: ColumnProfile, window: CategoricalWindow) -> StatisticResult:
        if OTHER_LEVEL in (reference.level_counts or {}) or window.count == 0:
            return StatisticResult(self.name, None, self.threshold, False)
        value = window.level_counts.get(UNSEEN_LEVEL, 0) / window.count
        return StatisticResult(self.name, value, self.threshold, value >= self.threshold)


def _pool_near_cutoff(table: np.ndarray, is_other: list[bool]) -> np.ndarray:
    """Pools the kept levels that barely made a truncated profile into ``__other__``.

    A profile keeps the most frequent levels *of its sample*, so levels near the cut were
    kept partly because the sample over-counted them, and the levels just below it were
    folded because it under-counted them. A window shows their true shares, and with
    small reference counts a test would flag that selection as drift. Levels within three
    Poisson standard deviations of the smallest kept count go back into ``__other__``,
    where over- and under-counting cancel.
    """
    other = np.asarray(is_other)
    kept = table[0, ~other]
    if kept.size == 0:
        return table
    cutoff = kept.min()
    near = ~other & (table[0] <= cutoff + 3 * np.sqrt(cutoff))
    pooled = table[:, other | near].sum(axis=1, keepdims=True)
    return np.hstack([table[:, ~(other | near)], pooled])


def numeric_statistics(config: DriftConfig) -> tuple[DriftStatistic[NumericWindow], ...]:
    """PSI, Wasserstein and KS with ``config``'s thresholds."""
    return (
        PSI(threshold=config.psi),
        Wasserstein(threshold=config.wasserstein),
        KolmogorovSmirnov(alpha=config.p_value),
    )


def categorical_statistics(config: DriftConfig) -> tuple[DriftStatistic[CategoricalWindow], ...]:
    """Jensen–Shannon distance, unseen rate and chi-square with ``config``'s thresholds."""
    return (
        JensenShannon(threshold=config.js_distance),
        UnseenRate(threshold=config.unseen_rate),
        ChiSquare(alpha=config.p_value),
    )
