"""``[monitoring]``, ``[policy]``, ``[kpis]`` and ``[retraining]``: what monitors measure and
what the policy does about it.

::

    [monitoring]
    window = "1d"                 # default window of `stead monitor run`: 1h, 1d ... or 10000
    grace = "2m"                  # a time window is evaluated once it ended this long ago
    label_coverage = 0.9          # a window's measured performance is final at this share
    label_horizon = "120d"        # ... or when the window is this old
    [monitoring.drift]            # DriftConfig: psi, wasserstein, js_distance, ...
    psi = 0.2
    [monitoring.schema]
    null_rate_jump = 0.05
    [monitoring.performance]
    tolerance = 0.05              # metric units; a fraction of training for rmse, mae, ...
    tolerance_mode = "auto"       # auto | relative | absolute
    min_labels = 200
    [monitoring.system]
    latency_p99_ms = 1000.0

    [policy]                      # the playbook; see docs/monitoring.md for why
    revisit_after = 3             # a feature drifting in 3 ...
    revisit_within = 5            # ... of the last 5 windows → revisit features
    decay_windows = 3             # 3 windows in a row below tolerance → retrain

    [kpis.loss]
    source = "loss_amount"        # the KPI's name in the feedback (default: the key)
    aggregate = "sum"             # sum | mean | rate
    max = 250000.0                # alert above

    [retraining]
    auto_canary = false
    canary_share = 10.0
    auto_promote = false

Every key can be overridden by ``STEAD_<TABLE>_<KEY>`` (``STEAD_POLICY_DECAY_WINDOWS``,
``STEAD_MONITORING_DRIFT_PSI``), except in the ``[kpis.NAME]`` tables: their names are
the user's, so they are read from the file only.

The checklist's ``monitoring_hooks`` item requires ``[monitoring]`` to be present (and not
``enabled = false``) and ``[alerts] sinks`` to list a sink (see ``alerts.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal

from stead.core.duration import parse_duration
from stead.core.errors import SettingsError, UsageError
from stead.core.settings import (
    Settings,
    at_least,
    between,
    build_dataclass,
    stage_table,
    stage_values,
)
from stead.monitoring.drift.thresholds import DriftConfig
from stead.registry.settings import UNBOUNDED


def _duration(value: str, key: str) -> timedelta:
    try:
        return parse_duration(value, what=key)
    except UsageError as exc:
        raise ValueError(exc.message) from exc


@dataclass(frozen=True, kw_only=True)
class SchemaSettings:
    """``[monitoring.schema]``: when a change in the logged requests' shape is news."""

    # A column's null share above its training share by more than this is a jump.
    null_rate_jump: float = 0.05
    # Share of a numeric column's values outside the training range (widened by
    # [validation] range_tolerance) that counts as a change; None: [validation]
    # max_out_of_range_rate.
    out_of_range_rate: float | None = None

    def __post_init__(self) -> None:
        between("null_rate_jump", self.null_rate_jump, 0.0, 1.0)
        if self.out_of_range_rate is not None:
            between("out_of_range_rate", self.out_of_range_rate, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class PerformanceSettings:
    """``[monitoring.performance]``: measured (from labels) and estimated performance."""

    # The metric compared with training; default: [checklist] primary_metric, else the
    # task's (roc_auc, f1_macro, rmse).
    metric: str | None = None
    # A window is below training when it is worse by more than this: in the metric's
    # units for bounded metrics (roc_auc, f1, accuracy, r2, ...), a fraction of the
    # training value for unbounded ones (rmse, mae, median_ae, mape, log_loss) unless
    # tolerance_mode says otherwise.
    tolerance: float = 0.05
    tolerance_mode: Literal["auto", "relative", "absolute"] = "auto"
    # Fewer labelled predictions than this: the window's metric is shown, not judged.
    min_labels: int = 200
    # Confidence-based performance estimation (CBPE) for classifiers with probabilities.
    estimate: bool = True
    # Fewer predictions than this: no estimate (too noisy to act on).
    estimate_min_rows: int = 300

    def __post_init__(self) -> None:
        at_least("tolerance", self.tolerance, 0.0)
        at_least("min_labels", self.min_labels, 1)
        at_least("estimate_min_rows", self.estimate_min_rows, 1)

    def relative(self, metric: str) -> bool:
        """Whether ``tolerance`` is a fraction of the training value for ``metric``."""
        if self.tolerance_mode == "auto":
            return metric in UNBOUNDED
        return self.tolerance_mode == "relative"

    def allowed(self, metric: str, training: float | None) -> tuple[float, str]:
        """The tolerance in ``metric``'s units for a version that scored ``training``,
        and how it was reached (for messages)."""
        if not self.relative(metric) or training is None:
            return self.tolerance, "absolute"
        allowed = self.tolerance * abs(training)
        return allowed, f"{self.tolerance:.0%} of training {metric} {training:.4g}"


@dataclass(frozen=True, kw_only=True)
class SystemSettings:
    """``[monitoring.system]``: limits on latency, errors, fallbacks and shadows."""

    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = 1_000.0
    error_rate: float = 0.01
    fallback_rate: float = 0.05
    shadow_disagreement: float = 0.1

    def __post_init__(self) -> None:
        for key in ("error_rate", "fallback_rate", "shadow_disagreement"):
            between(key, getattr(self, key), 0.0, 1.0)
        for key in ("latency_p50_ms", "latency_p99_ms"):
            value = getattr(self, key)
            if value is not None:
                at_least(key, value, 0.0)


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    """``[monitoring]``."""

    enabled: bool = True
    window: str = "1d"
    grace: str = "2m"
    # Performance of a window waits for labels until this share of its predictions has
    # one, or until the window is label_horizon old; then it is final.
    label_coverage: float = 0.9
    label_horizon: str = "120d"
    # Features to watch; empty: every input of the production version.
    features: list[str] = field(default_factory=list)
    # Record drift_detection / performance_logged evidence on the production version.
    record_evidence: bool = True
    drift: DriftConfig = field(default_factory=DriftConfig)
    schema: SchemaSettings = field(default_factory=SchemaSettings)
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    system: SystemSettings = field(default_factory=SystemSettings)

    def __post_init__(self) -> None:
        between("label_coverage", self.label_coverage, 0.0, 1.0)
        _duration(self.grace, "grace")
        _duration(self.label_horizon, "label_horizon")

    @property
    def grace_period(self) -> timedelta:
        return _duration(self.grace, "grace")

    @property
    def label_horizon_period(self) -> timedelta:
        return _duration(self.label_horizon, "label_horizon")


@dataclass(frozen=True, kw_only=True)
class PolicySettings:
    """``[policy]``: the playbook that turns signals into alerts, triggers and advice."""

    # Drift in a window → an `investigate` alert naming the features and statistics.
    investigate_on_drift: bool = True
    # Drift and a performance drop in the same window → a retrain trigger.
    retrain_on_drift_and_drop: bool = True
    # An estimated (not yet measured) drop counts when the estimate is below the
    # tolerance with this one-sided confidence.
    estimate_confidence: float = 0.95
    # The same feature drifting in at least revisit_after of the last revisit_within
    # windows → a `revisit features` recommendation.
    revisit_after: int = 3
    revisit_within: int = 5
    # The last decay_windows windows with enough labels all below → a retrain trigger.
    decay_windows: int = 3
    # After a trigger, no new automatic trigger for windows starting within this time.
    retrain_cooldown: str = "7d"

    def __post_init__(self) -> None:
        between("estimate_confidence", self.estimate_confidence, 0.5, 0.9999)
        at_least("revisit_after", self.revisit_after, 1)
        at_least("decay_windows", self.decay_windows, 1)
        if self.revisit_within < self.revisit_after:
            raise ValueError(
                f"revisit_within = {self.revisit_within} is not allowed; expected at least "
                f"revisit_after ({self.revisit_after})"
            )
        _duration(self.retrain_cooldown, "retrain_cooldown")

    @property
    def cooldown(self) -> timedelta:
        return _duration(self.retrain_cooldown, "retrain_cooldown")


Aggregate = Literal["sum", "mean", "rate"]


@dataclass(frozen=True, kw_only=True)
class KpiSettings:
    """``[kpis.NAME]``: a business KPI from feedback, aggregated per window.

    ``rate`` is the share of labelled predictions whose value is true or non-zero.
    """

    source: str | None = None
    aggregate: Aggregate = "mean"
    min: float | None = None
    max: float | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min = {self.min} is above max = {self.max}")


@dataclass(frozen=True, kw_only=True)
class RetrainingSettings:
    """``[retraining]``: what a retrain trigger does."""

    # Process a trigger as soon as the monitor raises it (else: `stead retrain`).
    automatic: bool = True
    # A CSV or Parquet file of fresh training data; default: the production version's
    # training snapshot.
    source: str | None = None
    # Add labelled production predictions (inputs from the log, labels from feedback).
    include_feedback: bool = True
    # The newest labelled predictions in this span are the backtest window: a candidate
    # fitted without them and production are compared on them; the registered version
    # is then refitted on every labelled row, these included.
    evaluation_window: str = "30d"
    min_evaluation_rows: int = 50
    # Re-run the new run and prove it bit-identical (the checklist's first item).
    reproduce: bool = True
    auto_canary: bool = False
    canary_share: float = 10.0
    auto_promote: bool = False
    # A process that claims a trigger holds it this long, renewing while it works; a
    # claim whose holder stopped renewing (killed, out of memory) is reclaimed after it.
    lease: str = "1h"

    def __post_init__(self) -> None:
        _duration(self.evaluation_window, "evaluation_window")
        if _duration(self.lease, "lease") < timedelta(minutes=1):
            raise ValueError(f"lease = {self.lease!r} is not allowed; expected at least 1m")
        at_least("min_evaluation_rows", self.min_evaluation_rows, 1)
        if not 0.0 < self.canary_share <= 100.0:
            raise ValueError(
                f"canary_share = {self.canary_share} is not allowed; expected (0, 100]"
            )

    @property
    def evaluation_period(self) -> timedelta:
        return _duration(self.evaluation_window, "evaluation_window")


@dataclass(frozen=True)
class MonitorConfig:
    """Every table the monitoring stage reads, parsed and validated together."""

    monitoring: MonitoringSettings
    policy: PolicySettings
    kpis: dict[str, KpiSettings]
    retraining: RetrainingSettings


def monitor_config(settings: Settings, env: Mapping[str, str] | None = None) -> MonitorConfig:
    """Parse ``[monitoring]``, ``[policy]``, ``[kpis]`` and ``[retraining]``.

    ``STEAD_MONITORING_*`` (``STEAD_MONITORING_DRIFT_PSI`` for ``[monitoring.drift] psi``),
    ``STEAD_POLICY_*`` and ``STEAD_RETRAINING_*`` override keys. ``[kpis.NAME]`` tables
    are named by the user and read from the file only.

    Raises:
        SettingsError: naming the key, the value and what is allowed.
    """
    found = stage_values(settings, "monitoring", MonitoringSettings, env=env)
    assert found is not None  # not optional: an absent table has its defaults
    monitoring, where = found
    drift = monitoring.pop("drift", {})
    if not isinstance(drift, dict):
        raise SettingsError(f"{where} drift must be a table, got {drift!r}")
    try:
        drift_config = DriftConfig.from_dict(drift)
    except SettingsError as exc:
        raise SettingsError(f"{where} drift: {exc.message}") from exc
    except TypeError as exc:
        raise SettingsError(f"{where} drift: {exc}") from exc
    parsed: MonitoringSettings = build_dataclass(MonitoringSettings, monitoring, where=where)
    parsed = replace(parsed, drift=drift_config)
    policy = stage_table(settings, "policy", PolicySettings, env=env)
    kpis_table = settings.extra.get("kpis", {})
    if not isinstance(kpis_table, dict):
        raise SettingsError(f"stead.toml: [kpis] must be a table, got {kpis_table!r}")
    kpis: dict[str, KpiSettings] = {}
    for name, table in kpis_table.items():
        if not isinstance(table, dict):
            raise SettingsError(
                f"stead.toml [kpis] {name} must be a table such as "
                f'[kpis.{name}] aggregate = "sum", got {table!r}'
            )
        kpis[name] = build_dataclass(KpiSettings, table, where=f"stead.toml [kpis.{name}]")
    retraining = stage_table(settings, "retraining", RetrainingSettings, env=env)
    return MonitorConfig(monitoring=parsed, policy=policy, kpis=kpis, retraining=retraining)
