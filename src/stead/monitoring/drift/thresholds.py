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
from typing import Any, Literal

from stead.core.errors import SettingsError

Allowed = Literal["positive", "probability"]
_ALLOWED: dict[Allowed, str] = {
    "positive": "a number > 0",
    "probability": "a number between 0 and 1",
}

# Every drift statistic by name, with its parameters and what each allows. Plain data:
# reading [monitoring.drift] checks its thresholds against this when a workspace opens,
# and the statistics themselves (stead.monitoring.drift.statistics: SciPy, pandas) are imported
# only when drift is computed. Each statistic checks its parameters against it too.
STATISTIC_PARAMETERS: dict[str, dict[str, Allowed]] = {
    "psi": {"threshold": "positive"},
    "wasserstein": {"threshold": "positive"},
    "ks": {"alpha": "probability"},
    "js_distance": {"threshold": "positive"},
    "unseen_rate": {"threshold": "probability"},
    "chi_square": {"alpha": "probability", "min_expected": "positive"},
}


def check_parameter(statistic: str, parameter: str, value: float) -> None:
    """Refuses a value a drift statistic's parameter does not allow.

    Raises:
        SettingsError: ``value`` is outside the range ``STATISTIC_PARAMETERS`` gives.
    """
    name = f"{statistic} {parameter}"
    allowed = STATISTIC_PARAMETERS[statistic][parameter]
    if allowed == "positive" and not value > 0:
        raise SettingsError(f"{name} must be > 0, got {value!r}", details={name: value})
    if allowed == "probability" and not 0 < value < 1:
        raise SettingsError(f"{name} must be between 0 and 1, got {value!r}", details={name: value})


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
        # Checked as the statistics would check them when built (numeric ones first), so
        # that a bad setting fails when the config is read, not at the first window.
        for name, parameters in _THRESHOLDS.items():
            value = getattr(self, name)
            statistic, parameter = parameters[0]
            if isinstance(value, bool) or not isinstance(value, int | float):
                allowed = _ALLOWED[STATISTIC_PARAMETERS[statistic][parameter]]
                raise SettingsError(
                    f"drift {name} = {value!r} is not allowed; expected {allowed}",
                    details={"setting": name, "value": value},
                )
            for statistic, parameter in parameters:
                check_parameter(statistic, parameter, value)
        for name in ("small_window", "min_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(
                    f"drift {name} must be a positive whole number, got {value!r}",
                    details={"setting": name, "value": value},
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftConfig:
        """Builds a config from settings, refusing unknown keys (a typo would be silent).

        Raises:
            SettingsError: an unknown key, or a value of the wrong type or out of range
                (naming the key, the value and what is allowed).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(
                f"unknown drift setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                details={"unknown": unknown},
            )
        return cls(**data)


# The statistics' parameters each threshold sets, in the order the statistics are built.
_THRESHOLDS: dict[str, tuple[tuple[str, str], ...]] = {
    "psi": (("psi", "threshold"),),
    "wasserstein": (("wasserstein", "threshold"),),
    "p_value": (("ks", "alpha"), ("chi_square", "alpha")),
    "js_distance": (("js_distance", "threshold"),),
    "unseen_rate": (("unseen_rate", "threshold"),),
}
