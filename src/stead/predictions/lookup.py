"""Finding logged predictions by request id, without reading all of history.

The prediction log is partitioned by endpoint and UTC day, not by request id, so a lookup
has to decide which days to open. Two things keep that small:

1. **The id names its day.** stead's ids start with their creation time (12 hex digits
   of milliseconds, see :func:`stead.core.ids.new_id`), and a prediction is logged
   within moments of its request id being made. Such an id is looked for first in its
   own day (then the next and the previous, for midnight and clock skew): one
   partition per endpoint, whatever the length of history.
2. **A sorted request-id index per closed day.** Ids that carry no time (a client's own
   id) are looked for day by day, newest first, stopping at the first day that has them.
   For a day that is over (before today, UTC) the first lookup that needs it writes
   ``_request_ids.parquet`` into the day's directory: every request id of that day,
   sorted, with the part file that holds it, in small row groups. Later lookups read
   that file's footer and one row group of a few thousand ids instead of the request-id
   column of every part file. The index records which part files it covers; files
   written after it (a late retry) are read directly and the index is rebuilt, so it is
   never trusted beyond what it saw. It lives beside the data, so retention that removes
   a day removes its index too; the log's reader ignores it (it reads ``part-*`` files).

An unknown id without a time still visits every day, but only each day's index footer
and at most one row group of it (or, for today, the request-id column of today's files).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from stead.core.clock import utcnow
from stead.core.durable import fsync_path
from stead.core.ids import new_id
from stead.predictions.layout import (
    live_part_files,
    logged_days,
    logged_endpoints,
    unify_schemas,
)

INDEX_FILE = "_request_ids.parquet"
INDEX_ROW_GROUP = 4096
_COVERED_KEY = b"stead.request_index.files"
# An id made by new_id(): an optional prefix, 12 hex digits of milliseconds, randomness.
_TIMED_ID = re.compile(r"^[A-Za-z_\-]*([0-9a-f]{12})[0-9a-f]{14}")
_EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)

log = logging.getLogger("stead.predictions.lookup")


def time_of_id(request_id: str) -> datetime | None:
    """The creation time a stead id carries, or ``None`` when it carries none.

    A client's own id may look like one by chance; the time is only a hint of where to
    look first, never a filter, so a wrong guess costs a lookup and nothing else.
    """
    match = _TIMED_ID.match(request_id)
    if match is None:
        return None
    try:
        when = datetime.fromtimestamp(int(match.group(1), 16) / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not _EARLIEST <= when <= utcnow() + timedelta(days=1):
        return None
    return when


def find_predictions(
    directory: str | os.PathLike[str],
    request_ids: Iterable[str],
    *,
    endpoint: str | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Every logged prediction row whose request id is one of ``request_ids``.

    Args:
        directory: the prediction log root.
        request_ids: the ids to find (duplicates are ignored).
        endpoint: only this endpoint's log; ``None`` looks in every endpoint's.
        columns: only these columns (``request_id`` and ``endpoint`` are always
            included); ``None`` for all.

    Returns:
        The rows found, with an ``endpoint`` column, in time order. An id with no row
        was never logged (or its day was removed by retention).
    """
    wanted = set(request_ids)
    root = Path(directory)
    found: list[pa.Table] = []
    for ep, day in _search_order(_days(root, endpoint), wanted):
        if not wanted:
            break
        ids = pa.array(sorted(wanted), pa.string())
        table = _rows_in_day(root, ep, day, pc.field("request_id").isin(ids), columns)
        if table.num_rows:
            found.append(table)
            wanted -= set(table.column("request_id").to_pylist())
    return _in_time_order(found)


def find_request(
    directory: str | os.PathLike[str],
    request_id: str,
    *,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The logged rows of one request, whichever id the client holds.

    A request of one record is logged under its request id; a request of several is
    logged as ``ID.0``, ``ID.1``, ... (the ids its answer lists), so the id the client
    got back for the whole request finds all of its records. They are logged together,
    so the search stops at the first day that has them.
    """
    exact = find_predictions(directory, [request_id], columns=columns)
    if exact.num_rows:
        return exact
    # Every id that starts with "ID.": the sorted range ["ID.", "ID/") ("/" follows ".").
    field = pc.field("request_id")
    in_request = (field >= f"{request_id}.") & (field < f"{request_id}/")
    root = Path(directory)
    found: list[pa.Table] = []
    day_found: date | None = None
    for ep, day in _search_order(_days(root, None), {request_id}):
        if day_found is not None and day != day_found:
            break
        table = _rows_in_day(root, ep, day, in_request, columns)
        if table.num_rows:
            found.append(table)
            day_found = day
    return _in_time_order(found)


def _in_time_order(found: list[pa.Table]) -> pa.Table:
    if not found:
        return pa.table(
            {"request_id": pa.array([], pa.string()), "endpoint": pa.array([], pa.string())}
        )
    table = pa.concat_tables(found, promote_options="permissive")
    return table.sort_by("timestamp") if "timestamp" in table.column_names else table


def _days(root: Path, endpoint: str | None) -> dict[str, list[date]]:
    names = [endpoint] if endpoint is not None else logged_endpoints(root)
    days: dict[str, list[date]] = {}
    for name in names:
        found = logged_days(root, name)
        if found or (root / f"endpoint={name}").is_dir():
            days[name] = [day for day, _ in reversed(found)]
    return days


def _search_order(
    days_by_endpoint: dict[str, list[date]], wanted: set[str]
) -> Iterable[tuple[str, date]]:
    # The days the ids name first (their own, the next, the previous), then all days
    # newest first: feedback and lineage are mostly about recent predictions.
    hinted: list[date] = []
    for request_id in wanted:
        when = time_of_id(request_id)
        if when is not None:
            day = when.date()
            for candidate in (day, day + timedelta(days=1), day - timedelta(days=1)):
                if candidate not in hinted:
                    hinted.append(candidate)
    first = [(ep, day) for day in hinted for ep, days in days_by_endpoint.items() if day in days]
    newest_first = sorted(
        ((endpoint, day) for endpoint, days in days_by_endpoint.items() for day in days),
        key=lambda pair: (pair[1], pair[0]),
        reverse=True,
    )
    yield from dict.fromkeys([*first, *newest_first])


def _rows_in_day(
    root: Path, endpoint: str, day: date, match: pc.Expression, columns: Sequence[str] | None
) -> pa.Table:
    """The rows of one endpoint's day whose request id satisfies ``match``."""
    day_dir = root / f"endpoint={endpoint}" / f"date={day.isoformat()}"
    files = live_part_files(day_dir)
    if not files:
        return pa.table({})
    holders = _locate(day_dir, day, files, match)
    if not holders:
        return pa.table({})
    hits = sorted({day_dir / name for name in holders})
    dataset = ds.dataset([str(p) for p in hits], format="parquet")
    fragments = list(dataset.get_fragments())
    schema = unify_schemas([f.physical_schema for f in fragments])
    dataset = ds.FileSystemDataset(fragments, schema, dataset.format, dataset.filesystem)
    selected = None
    if columns is not None:
        selected = [c for c in dict.fromkeys(["request_id", *columns]) if c in schema.names]
    table = dataset.to_table(columns=selected, filter=match)
    return table.append_column("endpoint", pa.repeat(pa.scalar(endpoint), table.num_rows))


def _locate(day_dir: Path, day: date, files: list[str], match: pc.Expression) -> set[str]:
    """The part files of one day that hold a request id satisfying ``match``."""
    index_path = day_dir / INDEX_FILE
    covered, holders = _search_index(index_path, match)
    unindexed = [f for f in files if f not in covered]
    if not unindexed:
        return holders & set(files)
    if day < utcnow().date():
        # The day is over: index it once, so the next lookup reads one small file.
        table = _build_index(day_dir, files, index_path)
        return set(table.filter(match).column("file").to_pylist())
    scanned = ds.dataset([str(day_dir / f) for f in unindexed], format="parquet").to_table(
        columns=["__filename"], filter=match
    )
    holders |= {Path(p).name for p in scanned.column("__filename").to_pylist()}
    return holders & set(files)


def _search_index(path: Path, match: pc.Expression) -> tuple[set[str], set[str]]:
    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        return set(), set()
    except Exception:  # a damaged index is rebuilt, never trusted
        log.warning("request index %s is unreadable; it will be rebuilt", path)
        return set(), set()
    metadata = parquet.schema_arrow.metadata or {}
    covered = set(metadata.get(_COVERED_KEY, b"").decode().split("\n")) - {""}
    # Sorted ids in small row groups: the statistics skip every group but the ones
    # whose id range holds a wanted id.
    table = ds.dataset(str(path), format="parquet").to_table(columns=["file"], filter=match)
    return covered, set(table.column("file").to_pylist())


def _build_index(day_dir: Path, files: list[str], path: Path) -> pa.Table:
    scanned = ds.dataset([str(day_dir / f) for f in files], format="parquet").to_table(
        columns=["request_id", "__filename"]
    )
    names = pa.array([Path(p).name for p in scanned.column("__filename").to_pylist()], pa.string())
    table = pa.table({"request_id": scanned.column("request_id"), "file": names})
    table = table.sort_by("request_id").replace_schema_metadata(
        {_COVERED_KEY: "\n".join(files).encode()}
    )
    tmp = day_dir / f".{INDEX_FILE}.{new_id()}.tmp"
    try:
        pq.write_table(table, tmp, row_group_size=INDEX_ROW_GROUP, compression="zstd")
        fsync_path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        # A read-only log (a viewer's copy) still answers, just without the shortcut.
        log.warning("could not write the request index %s: %s", path, exc)
        tmp.unlink(missing_ok=True)
    return table
