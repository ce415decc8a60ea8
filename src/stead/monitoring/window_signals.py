"""Evaluating one window: every signal of the four layers, from the window's own rows.

:class:`References` loads, once per model version and monitor run, what the signals
compare with (the snapshot profile, the input contract, the version's output profile,
calibration and training metrics). :class:`WindowEvaluator` turns a window's log rows
(and, for performance and KPIs, its feedback) into :class:`SignalResult` s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from stead.data.profile import Profile
from stead.monitoring.drift.reference import VersionReference, version_reference
from stead.monitoring.records import SignalResult
from stead.monitoring.settings import MonitorConfig
from stead.monitoring.signals import (
    business_kpis,
    estimated_performance,
    feature_drift,
    measured_performance,
    prediction_drift,
    schema_changes,
    system_health,
)
from stead.predictions.layout import INPUTS, OUT_OF_RANGE
from stead.predictions.window_reader import PRIMARY, WindowRows
from stead.registry.settings import checklist_settings
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.registry.service import ModelRegistry
    from stead.training.service import RunService


@dataclass(frozen=True)
class VersionContext:
    """What a window of one model version is compared with."""

    version: ModelVersion
    profile: Profile
    reference: VersionReference
    metric: str
    training_value: float | None


class References:
    """Per-version references, loaded once per monitor run."""

    def __init__(
        self, context: Context, models: ModelRegistry, runs: RunService, config: MonitorConfig
    ) -> None:
        self._ctx = context
        self._models = models
        self._runs = runs
        self._config = config
        self._cache: dict[str, VersionContext] = {}

    def get(self, ref: str) -> VersionContext:
        if ref not in self._cache:
            version = self._models.get(ref)
            reference = version_reference(self._ctx, version, self._runs)
            metric = self._config.monitoring.performance.metric or checklist_settings(
                self._ctx.settings
            ).primary_for(version.task, [k for k, v in reference.metrics.items() if v is not None])
            self._cache[ref] = VersionContext(
                version=version,
                profile=self._models.reference_profile(version.ref),
                reference=reference,
                metric=metric,
                training_value=reference.metrics.get(metric),
            )
        return self._cache[ref]


def production_version(table: pa.Table) -> str | None:
    """The version that answered most of the window as production (else as canary)."""
    if table.num_rows == 0:
        return None
    roles = table["role"].to_pylist()
    versions = table["model_version"].to_pylist()
    for wanted in ("production", "canary"):
        counts = Counter(v for v, r in zip(versions, roles, strict=True) if r == wanted)
        if counts:
            return counts.most_common(1)[0][0]
    return None


class WindowEvaluator:
    """Runs every signal on one window.

    Args:
        context: the open workspace (settings: ``[columns] id``, ``[validation]``).
        config: the monitoring settings.
        references: the per-version references.
    """

    def __init__(self, context: Context, config: MonitorConfig, references: References) -> None:
        self._ctx = context
        self._config = config
        self._references = references

    def log_signals(
        self, rows: WindowRows, version: VersionContext
    ) -> tuple[list[SignalResult], pd.DataFrame]:
        """Data drift, prediction drift, schema, estimated performance and system health.

        Returns:
            The results, and the window's rows as a DataFrame (for later use).
        """
        monitoring = self._config.monitoring
        frame = rows.table.to_pandas()
        primary = frame[frame["role"].isin(PRIMARY)]
        inputs = _inputs(primary)
        features = list(monitoring.features) or list(version.version.input_columns)
        results = [
            feature_drift(version.profile, inputs, columns=features, config=monitoring.drift)
        ]
        own = frame[(frame["model_version"] == version.version.ref) & frame["role"].isin(PRIMARY)]
        column = version.reference.output_column
        outputs = own[column] if column in own.columns else None
        results.append(
            prediction_drift(version.reference.output_profile, outputs, config=monitoring.drift)
        )
        validation = self._ctx.settings.validation
        roles = self._ctx.settings.columns
        # Refused requests never reached a model: the schema checks read the accepted
        # traffic only (a refused request must not change its types or null rates) and
        # count the refused ones, with their reasons.
        rejected = frame[frame["role"] == "rejected"]
        requests = inputs
        context = (roles.id, roles.time, *roles.pii)
        results.append(
            schema_changes(
                version.version.contract,
                version.profile,
                requests,
                null_rate_jump=monitoring.schema.null_rate_jump,
                out_of_range_rate=(
                    monitoring.schema.out_of_range_rate
                    if monitoring.schema.out_of_range_rate is not None
                    else validation.max_out_of_range_rate
                ),
                range_tolerance=validation.range_tolerance,
                ignore=frozenset(c for c in context if c),
                rejected=len(rejected),
                rejected_reasons=_reasons(rejected),
                flagged=(
                    primary[OUT_OF_RANGE].reset_index(drop=True)
                    if OUT_OF_RANGE in primary.columns
                    else None
                ),
            )
        )
        if monitoring.performance.estimate:
            results.append(
                estimated_performance(
                    _probabilities(own, version.reference),
                    version.reference,
                    metric=version.metric,
                    tolerance=monitoring.performance.allowed(
                        version.metric, version.training_value
                    )[0],
                    min_rows=monitoring.performance.estimate_min_rows,
                    confidence=self._config.policy.estimate_confidence,
                )
            )
        results.append(system_health(frame, monitoring.system, quarantined=rows.quarantined))
        return results, frame

    def feedback_signals(
        self,
        feedback: pd.DataFrame,
        version: VersionContext,
        *,
        predictions: int,
        final: bool,
    ) -> list[SignalResult]:
        """Measured performance and business KPIs from the window's feedback."""
        performance = self._config.monitoring.performance
        tolerance, basis = performance.allowed(version.metric, version.training_value)
        results = [
            measured_performance(
                feedback,
                task=version.version.task,
                classes=version.reference.classes,
                metric=version.metric,
                training_value=version.training_value,
                tolerance=tolerance,
                tolerance_basis=basis,
                min_labels=performance.min_labels,
                predictions=predictions,
                final=final,
            )
        ]
        if self._config.kpis:
            results.append(business_kpis(feedback, self._config.kpis, final=final))
        return results


def _inputs(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in frame.columns if c.startswith(INPUTS)]
    inputs = frame[columns]
    inputs.columns = [c[len(INPUTS) :] for c in columns]
    return inputs.reset_index(drop=True)


def _reasons(rejected: pd.DataFrame) -> dict[str, int]:
    """How many refused requests per error code (the text before the first colon)."""
    if rejected.empty:
        return {}
    codes = rejected["error"].fillna("unknown").astype(str).str.split(":", n=1).str[0]
    return {str(k): int(v) for k, v in codes.value_counts().sort_index().items()}


def _probabilities(frame: pd.DataFrame, reference: VersionReference) -> np.ndarray | None:
    columns = reference.probability_columns
    if not columns or not all(c in frame.columns for c in columns):
        return None
    values = frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    return values[~np.isnan(values).any(axis=1)]
