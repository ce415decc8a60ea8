"""``[registry]`` and ``[checklist]``: how stages move and what the readiness gate demands.

::

    [registry]
    # Where the version that was in production goes when another is promoted over it:
    # "staging" keeps it ready to promote back (rollback); "retired" ends its life.
    replaced_production_to = "staging"

    [checklist]
    # The metric the gate compares; default per task: roc_auc (binary), f1_macro
    # (multiclass), rmse (regression); when the run lacks it, a metric that tells a model
    # from the baseline (average precision before accuracy), see PRIMARY_PREFERENCE.
    primary_metric = "roc_auc"
    # The model must beat the fallback baseline by at least this much, in the primary
    # metric's own units (and be strictly better when it is 0).
    baseline_margin = 0.01
    # A challenger may be worse than the production champion on the challenger's
    # evaluation rows by at most this much, in the primary metric's units.
    champion_tolerance = 0.01
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from stead.core.settings import Settings, at_least, stage_table

# Metrics where a smaller value is better; every other metric is better when larger.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae", "mape", "median_ae"})
# Metrics with no upper bound, in the target's units (or growing without limit): a
# fixed tolerance means nothing across datasets (0.05 of an RMSE of 45 bikes is nothing).
UNBOUNDED = frozenset({"log_loss", "rmse", "mae", "mape", "median_ae"})
DEFAULT_PRIMARY: dict[str, str] = {
    "binary": "roc_auc",
    "multiclass": "f1_macro",
    "regression": "rmse",
}
# When the run did not compute the default: the metrics that show a model apart from the
# baseline, first. Accuracy comes last: with a rare class the prior baseline's accuracy
# is the majority share, and a useful model barely differs from it (0.968 vs 0.967).
PRIMARY_PREFERENCE: dict[str, tuple[str, ...]] = {
    "binary": ("average_precision", "log_loss", "brier", "balanced_accuracy", "f1", "recall"),
    "multiclass": ("balanced_accuracy", "log_loss", "roc_auc_ovr", "f1_weighted"),
    "regression": ("mae", "r2", "median_ae", "mape"),
}


@dataclass(frozen=True, kw_only=True)
class RegistrySettings:
    """``[registry]``."""

    replaced_production_to: Literal["staging", "retired"] = "staging"


@dataclass(frozen=True, kw_only=True)
class ChecklistSettings:
    """``[checklist]``: thresholds of the production-readiness gate."""

    primary_metric: str | None = None
    baseline_margin: float = 0.01
    champion_tolerance: float = 0.01

    def __post_init__(self) -> None:
        at_least("baseline_margin", self.baseline_margin, 0.0)
        at_least("champion_tolerance", self.champion_tolerance, 0.0)

    def primary_for(self, task: str, available: list[str]) -> str:
        """The metric to compare: the configured one, else the task's default when the
        run computed it, else the first of ``PRIMARY_PREFERENCE`` it computed, else the
        run's first metric."""
        if self.primary_metric:
            return self.primary_metric
        default = DEFAULT_PRIMARY.get(task)
        if default in available or not available:
            return default or "?"
        for metric in PRIMARY_PREFERENCE.get(task, ()):
            if metric in available:
                return metric
        return available[0]


def registry_settings(settings: Settings, env: Mapping[str, str] | None = None) -> RegistrySettings:
    """``[registry]`` parsed and checked, with ``STEAD_REGISTRY_*`` applied."""
    return stage_table(settings, "registry", RegistrySettings, env=env)


def checklist_settings(
    settings: Settings, env: Mapping[str, str] | None = None
) -> ChecklistSettings:
    """``[checklist]`` parsed and checked, with ``STEAD_CHECKLIST_*`` applied."""
    return stage_table(settings, "checklist", ChecklistSettings, env=env)


def better(metric: str, a: float, b: float) -> float:
    """How much better ``a`` is than ``b`` in ``metric`` (negative when worse)."""
    return (b - a) if metric in LOWER_IS_BETTER else (a - b)
