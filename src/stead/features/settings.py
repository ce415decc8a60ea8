"""``[features]`` and ``[training.leakage]``: the feature stage's settings, kept light.

These classes are parsed when a workspace opens (through
:func:`stead.training.settings.stage_settings`), so this module imports only the
standard library and ``core``: the code that builds transformers (scikit-learn) and runs
the leakage checks (pandas, SciPy) lives in :mod:`.definition` and :mod:`.leakage`,
which re-export these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stead.core.errors import SpecError
from stead.core.settings import Settings, between, stage_table
from stead.features.imports import ImportPath

Severity = Literal["error", "warn", "off"]


@dataclass(frozen=True, kw_only=True)
class FeatureSettings:
    """``[features]``: where the feature set is defined and with which parameters."""

    definition: str | None = None
    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.definition is None:
            raise ValueError(
                "missing key 'definition': the feature function as 'module:function', "
                'e.g. definition = "features:build"'
            )
        try:
            ImportPath.parse(self.definition, where="definition", colon=True)
        except SpecError as exc:  # the settings loader adds the table to ValueErrors
            raise ValueError(exc.message) from exc

    @property
    def path(self) -> ImportPath:
        assert self.definition is not None
        return ImportPath.parse(self.definition, where="[features] definition", colon=True)


def feature_settings(
    settings: Settings, env: Mapping[str, str] | None = None
) -> FeatureSettings | None:
    """``[features]`` parsed and checked, or ``None`` when the table is absent.

    ``STEAD_FEATURES_*`` variables override keys; a variable alone configures the table
    (see :func:`stead.core.settings.stage_table`).

    Raises:
        SettingsError: naming the key, the bad value and what is allowed.
    """
    return stage_table(settings, "features", FeatureSettings, env=env, optional=True)


@dataclass(frozen=True, kw_only=True)
class LeakageSettings:
    """``[training.leakage]``: how each check reacts, and the thresholds that flag a leak.

    ``too_good`` runs on the trained model: ``error`` records the run and fails the
    readiness checklist's ``leakage`` item (the model is already fitted), ``warn`` records
    the finding only.
    """

    target: Severity = "error"
    combination: Severity = "error"
    contamination: Severity = "error"
    temporal: Severity = "error"
    forbidden_columns: Severity = "error"
    too_good: Severity = "error"
    auc_threshold: float = 0.99
    correlation_threshold: float = 0.98
    # Regression: a single feature's cross-validated R² (binned model) at or above this.
    r2_threshold: float = 0.95
    # Regression: a linear fit on a few numeric features with held-out R² at or above this.
    combination_threshold: float = 0.999
    # The trained model on the evaluation rows: R² (regression) or ROC AUC (classification).
    too_good_r2: float = 0.99
    too_good_auc: float = 0.999

    def __post_init__(self) -> None:
        between("auc_threshold", self.auc_threshold, 0.5, 1.0)
        between("correlation_threshold", self.correlation_threshold, 0.0, 1.0)
        between("r2_threshold", self.r2_threshold, 0.0, 1.0)
        between("combination_threshold", self.combination_threshold, 0.0, 1.0)
        between("too_good_r2", self.too_good_r2, 0.0, 1.0)
        between("too_good_auc", self.too_good_auc, 0.5, 1.0)
