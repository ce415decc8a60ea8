"""Drift thresholds: one immutable, keyword-only set of numbers per monitor.

The defaults are chosen so that a window drawn from the reference distribution is not
flagged however large it is (docs/monitoring.md explains each number):

- effect sizes decide: PSI ≥ 0.2, normalised Wasserstein ≥ 0.1, Jensen–Shannon distance
  ≥ 0.1, unseen-category rate ≥ 0.01;
- p-values (KS, chi-square) are consulted only in *small* windows (effective sample size
  ≤ ``small_window``), where the effect sizes themselves are noisy; there an effect must
  also be significant at ``p_value``. In large windows every real difference is
  "significant", so a p-value would only flag noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from stead.core.errors import SettingsError

if TYPE_CHECKING:
    from stead.monitoring.statistics import DriftStatistic
    from stead.monitoring.window import CategoricalWindow, NumericWindow


@dataclass(frozen=True, kw_only=True)
class DriftConfig:
    """Thresholds for every drift statistic.

    Args:
        psi: population stability index at or above which a numeric column has shifted
            (0.1 = moderate, 0.2 = significant, the credit-scoring convention).
        wasserstein: Wasserstein-1 distance in reference standard deviations at or above
            which a numeric column has shifted (0.1 = a tenth of a standard deviation).
        js_distance: Jensen–Shannon distance (base 2, in [0, 1]) at or above which a
            categorical column has shifted.
        unseen_rate: share of a window's values in categories the reference never saw at
            or above which a categorical column has shifted.
        p_value: significance level of the KS and chi-square tests in small windows.
        small_window: effective sample size ``n·N/(n+N)`` (window ``n``, reference ``N``
            values) at or below which an effect must also be significant.
        min_rows: fewer non-missing values than this in a window gives the column an
            ``insufficient_data`` verdict instead of a guess.

    Example:
        >>> DriftConfig(psi=0.25).psi
        0.25
    """

    psi: float = 0.2
    wasserstein: float = 0.1
    js_distance: float = 0.1
    unseen_rate: float = 0.01
    p_value: float = 0.01
    small_window: int = 10_000
    min_rows: int = 100

    def __post_init__(self) -> None:
        # The statistics check their own parameters; building them here makes a bad
        # setting fail when the config is read, not at the first window.
        self.numeric_statistics()
        self.categorical_statistics()
        for name in ("small_window", "min_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(
                    f"drift {name} must be a positive whole number, got {value!r}",
                    details={"setting": name, "value": value},
                )

    def numeric_statistics(self) -> tuple[DriftStatistic[NumericWindow], ...]:
        """PSI, Wasserstein and KS with this config's thresholds."""
        from stead.monitoring.statistics import PSI, KolmogorovSmirnov, Wasserstein

        return (
            PSI(threshold=self.psi),
            Wasserstein(threshold=self.wasserstein),
            KolmogorovSmirnov(alpha=self.p_value),
        )

    def categorical_statistics(self) -> tuple[DriftStatistic[CategoricalWindow], ...]:
        """Jensen–Shannon distance, unseen rate and chi-square with this config's thresholds."""
        from stead.monitoring.statistics import ChiSquare, JensenShannon, UnseenRate

        return (
            JensenShannon(threshold=self.js_distance),
            UnseenRate(threshold=self.unseen_rate),
            ChiSquare(alpha=self.p_value),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftConfig:
        """Builds a config from settings, refusing unknown keys (a typo would be silent)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(
                f"unknown drift setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                details={"unknown": unknown},
            )
        return cls(**data)
