"""The four layers of signals a monitor evaluates per window, each a pure function of the
window's rows and references stored at training time:

- data: :func:`feature_drift`, :func:`prediction_drift`, :func:`schema_changes`;
- model: :func:`measured_performance` (from labels), :func:`estimated_performance` (CBPE);
- system: :func:`system_health`;
- business: :func:`business_kpis`.
"""

from __future__ import annotations

from stead.monitoring.signals.business import business_kpis
from stead.monitoring.signals.data import feature_drift, prediction_drift
from stead.monitoring.signals.estimate import estimated_performance, expected_roc_auc
from stead.monitoring.signals.performance import measured_performance
from stead.monitoring.signals.schema import schema_changes
from stead.monitoring.signals.system import system_health

__all__ = [
    "business_kpis",
    "estimated_performance",
    "expected_roc_auc",
    "feature_drift",
    "measured_performance",
    "prediction_drift",
    "schema_changes",
    "system_health",
]
