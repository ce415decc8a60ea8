"""The prediction log: every answer the system gives, and what is learned about it later.

A stage of its own between the registry and serving, because serving writes it while
monitoring, retraining, retention and lineage read it:

- the record and its layout: :mod:`.record` (one prediction), :mod:`.layout` (the
  Parquet columns and day partitions), :mod:`.outputs` (a model's answer as columns);
- writing: :mod:`.writer` (a cheap ``log()`` on the request path), :mod:`.write_units`,
  :mod:`.journal` (the crash journal), :mod:`.group_commit`, :mod:`.part_files`,
  :mod:`.quarantine`;
- reading: :mod:`.reader` (a time window), :mod:`.windows` and :mod:`.window_reader`
  (monitor windows), :mod:`.tail`, :mod:`.lookup` (by request id), :mod:`.lineage`;
- keeping it: :mod:`.compaction`, :mod:`.erasure`, :mod:`.retention`;
- what comes after a prediction: :mod:`.feedback` (labels and KPIs, by request id),
  :mod:`.tables`;
- ``ws.predictions``: :mod:`.service`.

The exports below are imported on first use: the reader and writer import pandas and
pyarrow, and importing any submodule runs this file first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stead.core.lazy import lazy_exports

if TYPE_CHECKING:
    from stead.data.sanitize import Sanitizer
    from stead.predictions.reader import (
        read_prediction_records,
        read_prediction_table,
        read_predictions,
    )
    from stead.predictions.record import PredictionRecord
    from stead.predictions.service import PredictionService
    from stead.predictions.writer import LogStats, PredictionLog, PredictionLogError

# The log reader and writer import pandas and pyarrow, and importing any submodule (the
# CLI's, the settings checks') runs this file first; so the exports are imported on first
# use, as in stead/__init__.py.
_LAZY = {
    "read_prediction_records": "stead.predictions.reader",
    "read_prediction_table": "stead.predictions.reader",
    "read_predictions": "stead.predictions.reader",
    "LogStats": "stead.predictions.writer",
    "PredictionLog": "stead.predictions.writer",
    "PredictionLogError": "stead.predictions.writer",
    "PredictionService": "stead.predictions.service",
    "PredictionRecord": "stead.predictions.record",
    "Sanitizer": "stead.data.sanitize",
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
