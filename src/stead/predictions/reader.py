"""Reading the prediction log back: one endpoint, one time window, only the days needed.

The window is pruned twice before any data is read. First by directory: only the
``date=`` directories of the endpoint that overlap ``[since, until)`` are listed (pointing
pyarrow's dataset discovery at the endpoint would list every day's files first, and a
year of logs is a long listing). Then by pyarrow's scanner: the time filter is pushed
down to the Parquet row-group statistics of ``timestamp``, so row groups outside the
window at the edge days are skipped. Asking for ``columns`` reads only those columns.

Files written by different model versions may have different input columns, or the
same column with different types: the reader unifies them (int64 and float64 become
float64, a column missing from a file reads as nulls, irreconcilable types become text).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from stead.core.clock import parse_time, to_utc
from stead.core.errors import UsageError
from stead.predictions.layout import (
    BASE_SCHEMA,
    TIMESTAMP,
    decode,
    live_part_files,
    logged_days,
    unify_schemas,
)
from stead.predictions.record import PredictionRecord, check_endpoint

TimeBound = datetime | str | None


def read_predictions(
    directory: str | os.PathLike[str],
    endpoint: str,
    since: TimeBound = None,
    until: TimeBound = None,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The logged predictions of ``endpoint`` made in ``[since, until)``, by time.

    Args:
        directory: the prediction log root (``[serving.log] dir``).
        endpoint: the endpoint name.
        since: first instant included (aware datetime or ISO 8601 text; a time without
            zone is UTC); ``None`` for the beginning.
        until: first instant excluded; ``None`` for no end.
        columns: read only these (e.g. ``["timestamp", "inputs.age"]``); a column no
            file in the window has comes back as nulls. ``None`` reads everything.

    Returns:
        One row per prediction: ``request_id``, ``timestamp`` (UTC), ``endpoint``, the
        other record fields, then ``inputs.<name>``, ``outputs.<key>`` and
        ``explanation.<feature>`` columns. Empty (with the record columns) when nothing
        was logged in the window.

    Raises:
        UsageError: a bad endpoint name or time, or ``since`` after ``until``.
    """
    table = read_prediction_table(directory, endpoint, since, until, columns=columns)
    return table.to_pandas()


def read_prediction_table(
    directory: str | os.PathLike[str],
    endpoint: str,
    since: TimeBound = None,
    until: TimeBound = None,
    *,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Like :func:`read_predictions`, as an Arrow table (the monitors' fast path)."""
    check_endpoint(endpoint)
    start, end = _bound(since, "since"), _bound(until, "until")
    if start is not None and end is not None and start > end:
        raise UsageError(f"since {start.isoformat()} is after until {end.isoformat()}; swap them")
    files = prediction_files(directory, endpoint, start, end)
    if files:
        found = ds.dataset([str(f) for f in files], format="parquet")
        fragments = list(found.get_fragments())
        # The scan casts each file's columns to the unified schema (and fills the ones
        # a file lacks with nulls), reusing the footers read here.
        schema = unify_schemas([fragment.physical_schema for fragment in fragments])
        dataset = ds.FileSystemDataset(fragments, schema, found.format, found.filesystem)
        wanted = None if columns is None else [c for c in columns if c in dataset.schema.names]
        table = dataset.to_table(columns=wanted, filter=_time_filter(start, end))
    else:
        empty = BASE_SCHEMA.empty_table()
        wanted = None if columns is None else [c for c in columns if c in empty.schema.names]
        table = empty if wanted is None else empty.select(wanted)
    if "timestamp" in table.column_names and table.num_rows > 1:
        table = table.sort_by("timestamp")
    return _finish(table, endpoint, columns)


def read_prediction_records(
    directory: str | os.PathLike[str],
    endpoint: str,
    since: TimeBound = None,
    until: TimeBound = None,
) -> list[PredictionRecord]:
    """The window as PredictionRecords, in time order (nulls omitted from the dicts)."""
    table = read_prediction_table(directory, endpoint, since, until)
    return decode(table)


def prediction_files(
    directory: str | os.PathLike[str],
    endpoint: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Path]:
    """The live Parquet files of ``endpoint`` whose day overlaps ``[since, until)``
    (compacted files, not the files they replace)."""
    check_endpoint(endpoint)
    first = since.date() if since is not None else date.min
    # ``until`` is excluded: a window ending at midnight does not need that day.
    last = (until - timedelta(microseconds=1)).date() if until is not None else date.max
    files: list[Path] = []
    for day, day_dir in logged_days(Path(directory), endpoint):
        if first <= day <= last:
            files.extend(day_dir / name for name in live_part_files(day_dir))
    return files


def _bound(value: TimeBound, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    try:
        return parse_time(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from exc


def _time_filter(since: datetime | None, until: datetime | None) -> pc.Expression | None:
    condition = None
    if since is not None:
        condition = ds.field("timestamp") >= pa.scalar(since, TIMESTAMP)
    if until is not None:
        upper = ds.field("timestamp") < pa.scalar(until, TIMESTAMP)
        condition = upper if condition is None else condition & upper
    return condition


def _finish(table: pa.Table, endpoint: str, columns: Sequence[str] | None) -> pa.Table:
    if columns is None:
        position = min(2, table.num_columns)
        return table.add_column(
            position, "endpoint", pa.repeat(pa.scalar(endpoint), table.num_rows)
        )
    arrays, names = [], []
    for name in columns:
        if name == "endpoint":
            arrays.append(pa.repeat(pa.scalar(endpoint), table.num_rows))
        elif name in table.column_names:
            arrays.append(table.column(name))
        else:
            arrays.append(pa.nulls(table.num_rows))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)
