"""Reading the prediction log window by window, touching only the days a window needs.

Time windows are read a day at a time (or a window at a time when a window is longer than
a day) and split by window, so an hourly monitor over a month reads each day once. Count
windows continue from a cursor — the last prediction of the previous window (its time and
request id) — so the next window reads forward from that day, never from the start of the
log. The cost of a window is therefore its own rows plus at most one partial day.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from stead.predictions.layout import EXPLANATION, TIMESTAMP, logged_days
from stead.predictions.quarantine import quarantined
from stead.predictions.reader import read_prediction_table
from stead.predictions.record import check_endpoint
from stead.predictions.windows import EPOCH, Window, WindowSpec

# The rows a count window counts: the versions that answered (a fallback row repeats the
# request of the row that failed; a shadow row mirrors it).
PRIMARY = ("production", "canary")
DAY = timedelta(days=1)
COUNT_CHUNK_DAYS = 7


@dataclass(frozen=True)
class WindowRows:
    """One window and its log rows (every role, explanations left out), and how many
    of its predictions the log writer quarantined."""

    window: Window
    table: pa.Table
    quarantined: int = 0

    @property
    def requests(self) -> int:
        """Answered requests: the rows of the production and canary versions."""
        if self.table.num_rows == 0:
            return 0
        return int(pc.sum(pc.is_in(self.table["role"], pa.array(PRIMARY))).as_py() or 0)


class LogWindows:
    """Cuts one endpoint's prediction log into windows.

    Args:
        directory: the prediction log root (``[serving.log] dir``).
        endpoint: the endpoint.
    """

    def __init__(self, directory: str | os.PathLike[str], endpoint: str) -> None:
        self.directory = Path(directory)
        self.endpoint = check_endpoint(endpoint)

    def days(self) -> list[date]:
        """The UTC days that have log files (one directory listing)."""
        return [day for day, _ in logged_days(self.directory, self.endpoint)]

    def first_day(self) -> date | None:
        days = self.days()
        return days[0] if days else None

    # -- time windows -----------------------------------------------------------------

    def time_windows(
        self, spec: WindowSpec, since: datetime, until: datetime
    ) -> Iterator[WindowRows]:
        """Complete time windows in ``[since, until)`` that have rows, oldest first.

        ``since`` is aligned down to its window; a window is yielded only when it ends at
        or before ``until`` (later rows may still be on their way to the log).
        """
        assert spec.kind == "time" and spec.length is not None
        start = spec.containing(since).start
        days = [d for d in self.days() if _midnight(d) + DAY > start and _midnight(d) < until]
        if not days:
            return
        if spec.length > DAY:
            yield from self._long_windows(spec, start, until, set(days))
            return
        for day in days:
            chunk_start = max(_midnight(day), start)
            chunk_end = min(_midnight(day) + DAY, until)
            if chunk_end <= chunk_start:
                continue
            table = self._read(chunk_start, chunk_end)
            yield from self._split(spec, table, until)

    def _long_windows(
        self, spec: WindowSpec, start: datetime, until: datetime, days: set[date]
    ) -> Iterator[WindowRows]:
        assert spec.length is not None
        window = spec.containing(start)
        while window.end <= until:
            touched = {(window.start + DAY * i).date() for i in range(spec.length // DAY)}
            if touched & days:
                table = self._read(window.start, window.end)
                if table.num_rows:
                    yield self._rows(window, table)
            window = spec.containing(window.end)

    def _split(self, spec: WindowSpec, table: pa.Table, until: datetime) -> Iterator[WindowRows]:
        if table.num_rows == 0:
            return
        assert spec.length is not None
        micros = pc.cast(table["timestamp"], pa.int64()).to_numpy(zero_copy_only=False)
        size = int(spec.length.total_seconds() * 1_000_000)
        # Microseconds since the epoch, so the index is the window's number since then.
        index = micros // size
        for value in np.unique(index):
            window = spec.containing(EPOCH + timedelta(microseconds=int(value) * size))
            if window.end > until:
                break
            mask = pa.array(index == value)
            yield self._rows(window, table.filter(mask))

    # -- count windows ----------------------------------------------------------------

    def count_windows(
        self,
        spec: WindowSpec,
        until: datetime,
        *,
        after: tuple[datetime, str, int] | None = None,
    ) -> Iterator[WindowRows]:
        """Complete count windows after the cursor ``(time, request id, index)``.

        Window ``i`` holds the next ``spec.size`` answered predictions in (time, request
        id) order, and the fallback and shadow rows of the same requests.
        """
        assert spec.kind == "count" and spec.size is not None
        size = spec.size
        cursor_time, cursor_id, index = after if after is not None else (None, None, -1)
        first = cursor_time.date() if cursor_time is not None else self.first_day()
        if first is None:
            return
        days = [d for d in self.days() if d >= first and _midnight(d) < until]
        buffer: pa.Table | None = None
        # A week of days per read: each read has a fixed cost (listing, footers), and a
        # count window usually spans several days.
        for chunk in range(0, len(days), COUNT_CHUNK_DAYS):
            chosen = days[chunk : chunk + COUNT_CHUNK_DAYS]
            start = _midnight(chosen[0])
            if cursor_time is not None and cursor_time > start:
                start = cursor_time
            table = self._read(start, min(_midnight(chosen[-1]) + DAY, until))
            if table.num_rows == 0:
                continue
            table = table.sort_by([("timestamp", "ascending"), ("request_id", "ascending")])
            if cursor_time is not None:
                table = table.filter(_after(table, cursor_time, cursor_id or ""))
            buffer = table if buffer is None else pa.concat_tables([buffer, table])
            while buffer is not None:
                primary = pc.is_in(buffer["role"], pa.array(PRIMARY)).to_numpy(zero_copy_only=False)
                positions = np.flatnonzero(primary)
                if positions.size < size:
                    break
                last = int(positions[size - 1])
                last_time = buffer["timestamp"][last].as_py()
                last_id = str(buffer["request_id"][last].as_py())
                # Rows of the last request logged after it (its fallback or shadows) belong
                # to this window too.
                tail = last + 1
                ids = buffer["request_id"].to_pylist()
                while tail < buffer.num_rows and ids[tail] == last_id:
                    tail += 1
                index += 1
                part = buffer.slice(0, tail)
                first_time = part["timestamp"][0].as_py()
                window = Window(
                    spec=spec.name,
                    kind="count",
                    start=first_time,
                    end=last_time,
                    index=index,
                    cursor=last_id,
                )
                yield self._rows(window, part)
                buffer = buffer.slice(tail) if tail < buffer.num_rows else None
                cursor_time, cursor_id = last_time, last_id

    # -- reading ----------------------------------------------------------------------

    def _rows(self, window: Window, table: pa.Table) -> WindowRows:
        end = window.end if window.kind == "time" else window.end + timedelta(microseconds=1)
        held = quarantined(self.directory, self.endpoint, window.start, end)
        return WindowRows(window, table, quarantined=len(held))

    def read(self, since: datetime, until: datetime) -> pa.Table:
        """Rows of ``[since, until)`` without explanation columns."""
        return self._read(since, until)

    def _read(self, since: datetime, until: datetime) -> pa.Table:
        table = read_prediction_table(self.directory, self.endpoint, since, until)
        keep = [c for c in table.column_names if not c.startswith(EXPLANATION)]
        return table.select(keep)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _after(table: pa.Table, moment: datetime, request_id: str) -> pa.Array:
    stamp = pa.scalar(moment, TIMESTAMP)
    later = pc.greater(table["timestamp"], stamp)
    same = pc.and_(pc.equal(table["timestamp"], stamp), pc.greater(table["request_id"], request_id))
    return pc.or_(later, same)
