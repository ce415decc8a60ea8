"""Serving: putting registered models in front of traffic, and logging every prediction.

The prediction log so far: :class:`PredictionRecord` (one prediction),
:class:`PredictionLog` (the background writer), :func:`read_predictions` (the reader) and
:class:`PredictionService` (``ws.predictions``).
"""

from __future__ import annotations

from stead.serving.log_reader import (
    read_prediction_records,
    read_prediction_table,
    read_predictions,
)
from stead.serving.prediction_log import LogStats, PredictionLog, PredictionLogError
from stead.serving.predictions import PredictionService
from stead.serving.record import PredictionRecord
from stead.serving.sanitize import Sanitizer

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
