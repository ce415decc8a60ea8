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

from typing import TYPE_CHECKING

from stead.core.lazy import lazy_exports

if TYPE_CHECKING:
    from stead.monitoring.drift.detect import comparable, detect_column_drift, detect_drift
    from stead.monitoring.drift.errors import DriftInputError
    from stead.monitoring.drift.outputs import detect_prediction_drift, profile_outputs
    from stead.monitoring.drift.report import ColumnDrift, DriftReport, StatisticResult
    from stead.monitoring.drift.statistics import (
        PSI,
        ChiSquare,
        DriftStatistic,
        JensenShannon,
        KolmogorovSmirnov,
        UnseenRate,
        Wasserstein,
    )
    from stead.monitoring.drift.thresholds import DriftConfig
    from stead.monitoring.policy import decide
    from stead.monitoring.records import (
        Alert,
        Decision,
        MonitorResult,
        RetrainTrigger,
        SignalResult,
    )
    from stead.predictions.windows import WindowSpec

# The drift code imports pandas and SciPy, and importing any submodule (such as
# stead.monitoring.settings, checked whenever a workspace opens) runs this file first; so
# the exports are imported on first use, as in stead/__init__.py.
_LAZY = {
    "DriftConfig": "stead.monitoring.drift.thresholds",
    "comparable": "stead.monitoring.drift.detect",
    "detect_column_drift": "stead.monitoring.drift.detect",
    "detect_drift": "stead.monitoring.drift.detect",
    "DriftInputError": "stead.monitoring.drift.errors",
    "decide": "stead.monitoring.policy",
    "detect_prediction_drift": "stead.monitoring.drift.outputs",
    "profile_outputs": "stead.monitoring.drift.outputs",
    "Alert": "stead.monitoring.records",
    "Decision": "stead.monitoring.records",
    "MonitorResult": "stead.monitoring.records",
    "RetrainTrigger": "stead.monitoring.records",
    "SignalResult": "stead.monitoring.records",
    "ColumnDrift": "stead.monitoring.drift.report",
    "DriftReport": "stead.monitoring.drift.report",
    "StatisticResult": "stead.monitoring.drift.report",
    "PSI": "stead.monitoring.drift.statistics",
    "ChiSquare": "stead.monitoring.drift.statistics",
    "DriftStatistic": "stead.monitoring.drift.statistics",
    "JensenShannon": "stead.monitoring.drift.statistics",
    "KolmogorovSmirnov": "stead.monitoring.drift.statistics",
    "UnseenRate": "stead.monitoring.drift.statistics",
    "Wasserstein": "stead.monitoring.drift.statistics",
    "WindowSpec": "stead.predictions.windows",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)


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
