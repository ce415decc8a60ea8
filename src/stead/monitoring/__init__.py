"""Monitoring: drift of inputs and outputs against a snapshot's reference profile.

Everything here is pure: functions of a stored :class:`~stead.data.profile.Profile` and a
window of rows, with no database or workspace, so monitors, the CLI and tests all use the
same code::

    from stead.monitoring import DriftConfig, detect_drift

    report = detect_drift(snapshot.profile, window, config=DriftConfig(psi=0.25))
    report.drifted_features
"""

from __future__ import annotations

from stead.monitoring.config import DriftConfig
from stead.monitoring.drift import comparable, detect_column_drift, detect_drift
from stead.monitoring.errors import DriftInputError
from stead.monitoring.prediction import detect_prediction_drift, profile_outputs
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

__all__ = [
    "PSI",
    "ChiSquare",
    "ColumnDrift",
    "DriftConfig",
    "DriftInputError",
    "DriftReport",
    "DriftStatistic",
    "JensenShannon",
    "KolmogorovSmirnov",
    "StatisticResult",
    "UnseenRate",
    "Wasserstein",
    "comparable",
    "detect_column_drift",
    "detect_drift",
    "detect_prediction_drift",
    "profile_outputs",
]
