"""Monitoring: drift of inputs and outputs against a snapshot's reference profile, and
the records and playbook of the monitors built on it.

Everything exported here is pure: functions of a stored
:class:`~stead.data.profile.Profile` and a window of rows, the policy that turns signals
into decisions, and the records monitors store, with no database or workspace, so
monitors, the CLI and tests all use the same code::

    from stead.monitoring import DriftConfig, detect_drift

    report = detect_drift(snapshot.profile, window, config=DriftConfig(psi=0.25))
    report.drifted_features

The monitors themselves are ``ws.monitors`` (:mod:`stead.monitoring.service`).
"""

from __future__ import annotations

from stead.monitoring.config import DriftConfig
from stead.monitoring.drift import comparable, detect_column_drift, detect_drift
from stead.monitoring.errors import DriftInputError
from stead.monitoring.policy import decide
from stead.monitoring.prediction import detect_prediction_drift, profile_outputs
from stead.monitoring.records import Alert, Decision, MonitorResult, RetrainTrigger, SignalResult
from stead.monitoring.report import ColumnDrift, DriftReport, StatisticResult
from stead.monitoring.statistics import (
    PSI,
    ChiSquare,
    DriftStatistic,
    JensenShannon,
    KolmogorovSmirnov,
    UnseenRate,
    Wasserstein,
)
from stead.monitoring.windowing import WindowSpec

__all__ = [
    "PSI",
    "Alert",
    "ChiSquare",
    "ColumnDrift",
    "Decision",
    "DriftConfig",
    "DriftInputError",
    "DriftReport",
    "DriftStatistic",
    "JensenShannon",
    "KolmogorovSmirnov",
    "MonitorResult",
    "RetrainTrigger",
    "SignalResult",
    "StatisticResult",
    "UnseenRate",
    "Wasserstein",
    "WindowSpec",
    "comparable",
    "decide",
    "detect_column_drift",
    "detect_drift",
    "detect_prediction_drift",
    "profile_outputs",
]
