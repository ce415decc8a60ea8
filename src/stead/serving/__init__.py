"""Serving: putting registered models in front of traffic, and logging every prediction.

The prediction log so far: :class:`PredictionRecord` (one prediction),
:class:`PredictionLog` (the background writer), :func:`read_predictions` (the reader) and
:class:`PredictionService` (``ws.predictions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stead.core.lazy import lazy_exports

if TYPE_CHECKING:
    from stead.serving.log_reader import (
        read_prediction_records,
        read_prediction_table,
        read_predictions,
    )
    from stead.serving.prediction_log import LogStats, PredictionLog, PredictionLogError
    from stead.serving.predictions import PredictionService
    from stead.serving.record import PredictionRecord
    from stead.serving.sanitize import Sanitizer

# The log reader and writer import pandas and pyarrow, and importing any submodule (the
# CLI's, the settings checks') runs this file first; so the exports are imported on first
# use, as in stead/__init__.py.
_LAZY = {
    "read_prediction_records": "stead.serving.log_reader",
    "read_prediction_table": "stead.serving.log_reader",
    "read_predictions": "stead.serving.log_reader",
    "LogStats": "stead.serving.prediction_log",
    "PredictionLog": "stead.serving.prediction_log",
    "PredictionLogError": "stead.serving.prediction_log",
    "PredictionService": "stead.serving.predictions",
    "PredictionRecord": "stead.serving.record",
    "Sanitizer": "stead.serving.sanitize",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)


__all__ = [
    "LogStats",
    "PredictionLog",
    "PredictionLogError",
    "PredictionRecord",
    "PredictionService",
    "Sanitizer",
    "read_prediction_records",
    "read_prediction_table",
    "read_predictions",
]
