"""The prediction-log writer's thread: encoding, Parquet writes, journal units.

Encoding happens chunk by chunk as records arrive; a flush joins a partition's chunks
and writes one file. In journal mode the log fills a journal *unit* (see
:mod:`stead.predictions.journal`) while it encodes; when it writes Parquet it seals the
unit (new appends go to the next one), fsyncs the segments, and deletes them once every
partition's file of the unit is in place. A unit whose write failed stalls: its records
wait on disk, not in memory, and are converted again from the segments every flush
interval. At start, the units of crashed writers are converted the same way, and the
records the writer cannot encode are quarantined (:mod:`stead.predictions.quarantine`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from time import monotonic

import pyarrow as pa

from stead.data.sanitize import NO_PII, Sanitizer
from stead.predictions.journal import (
    JournalOwner,
    LeftUnit,
    Segment,
    clean_temporary_files,
    from_line,
    replay,
    unit_file_name,
)
from stead.predictions.layout import combine
from stead.predictions.part_files import PartitionKey, PartWriter, by_partition, encode_isolating
from stead.predictions.quarantine import (
    QUARANTINE_DIR,
    append_line,
    quarantine,
    quarantine_line,
)
from stead.predictions.record import PredictionRecord

log = logging.getLogger("stead.predictions.writer")
QuarantineListener = Callable[[str, str], None]
Unit = tuple[int, list[Segment], int]  # number, segments, rows still to write


class Batch:
    """Records taken together by the writer; sync callers wait on ``done``."""

    __slots__ = ("done", "error", "failed", "first_at", "records")

    def __init__(self) -> None:
        self.records: list[PredictionRecord] = []
        self.first_at = 0.0  # monotonic time its first record arrived
        self.done = threading.Event()
        # Per partition, why its records were not written; ``error`` when none were.
        self.failed: dict[PartitionKey, str] = {}
        self.error: str | None = None


class WriterWork:
    """What the writer thread does: encode, write Parquet, journal units, quarantine.
    Mixed into the PredictionLog, whose lock and counters it shares."""

    directory: Path
    _lock: threading.Lock
    _drained: threading.Condition
    _started: threading.Event
    _interval: float
    _backoff_until: float
    _sanitizer: Sanitizer
    _encode_sanitizer: Sanitizer
    _on_quarantine: QuarantineListener | None
    _parts: PartWriter
    _writer_id: str
    _owner: JournalOwner | None
    _unit: int
    _segments: list[Segment]
    _unit_rows: int
    _stalled: list[Unit]
    _stalled_rows: int
    _written: int
    _files: int
    _quarantined: int
    _quarantined_late: int
    _replayed: int
    _sync: bool
    _encode_rows: int
    _encoded: dict[PartitionKey, list[pa.Table]]
    _encoded_rows: int
    _write_at: float
    _write_errors: int
    _failed: int
    _lost_at_close: int

    def _start(self) -> None:
        """Clean what crashed writers left, and convert their journal units."""
        try:
            removed = clean_temporary_files(self.directory)
            if removed:
                log.info("prediction log %s: removed %d temporary file(s)", self.directory, removed)
            replayed = replay(self.directory, self._convert_left)
        except OSError as exc:
            log.error(
                "prediction log %s: could not convert the journal a crashed writer left "
                "(kept for the next start): %s",
                self.directory,
                exc,
            )
        else:
            with self._lock:
                self._replayed += replayed
        finally:
            self._started.set()

    def _seal(self) -> Unit:
        """End the unit being filled (lock held); appends go to a new unit from now on."""
        assert self._owner is not None
        sealed = (self._unit, self._segments, self._unit_rows)
        self._unit += 1
        self._segments = [self._owner.segment(self._unit, 0)]
        self._unit_rows = 0
        return sealed

    def _rotate(self) -> None:
        """Appends go to a new segment of the unit (lock held): the one fsync'd next is
        then idle, and an fsync never holds up a ``write()`` on the request path (the
        kernel serialises the two on one file)."""
        assert self._owner is not None
        try:
            self._segments.append(self._owner.segment(self._unit, len(self._segments)))
        except OSError as exc:
            log.warning("prediction log: cannot start a journal segment: %s", exc)

    def _sync_journal(self, sealed: Unit | None) -> None:
        # Only this thread closes segments, so the fds stay valid outside the lock. The
        # segment appends go to now is left alone; it is fsync'd at the next step.
        assert self._owner is not None
        idle = [*(sealed[1] if sealed else ()), *self._segments[:-1]]
        try:
            for segment in idle:
                segment.sync()
            self._owner.sync_directory()
        except OSError as exc:
            log.warning("prediction log %s: fsync of the journal failed: %s", self.directory, exc)

    def _finish_unit(self, unit: int, segments: list[Segment], rows: int, *, failed: bool) -> None:
        if failed:
            with self._lock:
                self._stalled.append((unit, segments, rows))
                self._stalled_rows += rows
                self._backoff_until = monotonic() + self._interval
            return
        for segment in segments:
            segment.close()
            segment.path.unlink(missing_ok=True)

    def _retry_stalled(self, *, final: bool) -> None:
        """Convert units whose Parquet write failed again, from their segments."""
        still = []
        for unit, segments, rows in self._stalled:
            left = LeftUnit(self._writer_id, unit, [s.path for s in segments])
            try:
                records = []
                for line in left.lines():
                    try:
                        records.append(from_line(line))
                    except Exception as exc:  # never expected in our own segments
                        self._quarantine_line(left, line, f"unreadable journal line: {exc}")
                written = self._convert(left, records, NO_PII, count=False)
            except OSError as exc:
                with self._lock:
                    self._write_errors += 1
                log.warning(
                    "prediction log %s: %d record(s) still wait in the journal: %s",
                    self.directory,
                    rows,
                    exc,
                )
                still.append((unit, segments, rows))
                continue
            self._finish_unit(unit, segments, rows, failed=False)
            with self._lock:
                self._stalled_rows -= rows
                self._written += written
                self._quarantined_late += rows - written
                self._drained.notify_all()
        with self._lock:
            self._stalled = still
            if still:
                self._backoff_until = monotonic() + self._interval
        if still and final:
            log.warning(
                "prediction log %s: %d record(s) left in the journal; they are written when "
                "the log next opens on this directory",
                self.directory,
                sum(rows for _, _, rows in still),
            )

    def _stop_journal(self) -> None:
        if self._owner is None:
            return
        for segment in self._segments:
            segment.close()
            if not self._stalled and self._unit_rows == 0:
                segment.path.unlink(missing_ok=True)
        if not self._stalled and self._unit_rows == 0:
            self._owner.release()
        else:  # the lock goes with the process; the next start converts what is left
            for _, segments, _ in self._stalled:
                for segment in segments:
                    segment.close()

    def _convert_left(
        self, unit: LeftUnit, records: list[PredictionRecord], unreadable: list[tuple[bytes, str]]
    ) -> None:
        for line, reason in unreadable:
            self._quarantine_line(unit, line, reason)
        self._convert(unit, records, NO_PII)

    def _convert(
        self,
        unit: LeftUnit,
        records: list[PredictionRecord],
        sanitizer: Sanitizer,
        *,
        count: bool = True,
    ) -> int:
        """Write a unit's records, skipping partitions whose unit file exists; return how
        many records were written now. ``count``: count quarantined records (a retry's
        were counted the first time).

        Raises:
            OSError: a partition could not be written.
        """
        name = unit_file_name(unit.writer, unit.unit)
        written = 0
        for key, group in by_partition(records).items():
            if self._parts.path(key, name).exists():
                continue
            table = encode_isolating(group, sanitizer, self._rejecter(sanitizer, count=count))
            if table is not None:
                self._parts.write(key, table, name)
                written += table.num_rows
                with self._lock:
                    self._files += 1
        return written

    def _quarantine_line(self, unit: LeftUnit, line: bytes, reason: str) -> None:
        entry = quarantine_line(
            segment=unit.segments[0].name, reason=reason, line=line.decode("latin-1")
        )
        append_line(self.directory / QUARANTINE_DIR / "unreadable.jsonl", entry)
        with self._lock:
            self._quarantined += 1

    def _rejecter(
        self, sanitizer: Sanitizer, *, count: bool = True
    ) -> Callable[[PredictionRecord, str], None]:
        return lambda record, reason: self._reject(
            record, reason, sanitizer, counted=True, count=count
        )

    def _reject(
        self,
        record: PredictionRecord,
        reason: str,
        sanitizer: Sanitizer,
        *,
        counted: bool,
        count: bool = True,
    ) -> None:
        """Quarantine one record; ``counted``: it was counted in ``logged``; ``count``:
        count it now (not when a retry quarantines it again)."""
        log.error(
            "prediction log: record %s of %s quarantined: %s",
            record.request_id,
            record.endpoint,
            reason,
        )
        try:
            quarantine(self.directory, record, reason, sanitizer)
        except OSError as exc:
            log.error("prediction log: quarantining %s failed: %s", record.request_id, exc)
        if not count:
            return
        with self._lock:
            self._quarantined += 1
            if counted:
                self._quarantined_late += 1
            self._drained.notify_all()
        if self._on_quarantine is not None:
            self._on_quarantine(record.endpoint, reason)

    def _encode(self, batch: Batch, *, final: bool) -> None:
        groups = by_partition(batch.records)
        if not self._encoded:
            self._write_at = batch.first_at + self._interval
        # Chunk by chunk, dropping each chunk's records once encoded: neither the
        # conversion nor the freeing holds the GIL for long.
        batch.records = []
        step = self._encode_rows
        reject = self._rejecter(self._encode_sanitizer)
        for key, records in groups.items():
            while records:
                chunk = records[:step]
                del records[:step]
                table = encode_isolating(chunk, self._encode_sanitizer, reject)
                if table is not None:
                    self._encoded.setdefault(key, []).append(table)
                    self._encoded_rows += table.num_rows

    def _write(
        self, batch: Batch, sealed: tuple[int, list[Segment], int] | None, *, final: bool
    ) -> None:
        name = None if sealed is None else unit_file_name(self._writer_id, sealed[0])
        unit_failed = 0  # rows of this unit whose partition could not be written
        for key in list(self._encoded):
            chunks = self._encoded[key]
            rows = sum(chunk.num_rows for chunk in chunks)
            where = f"endpoint={key[0]}/date={key[1].isoformat()}"
            try:
                self._parts.write(key, combine(chunks), name)
            except OSError as exc:
                with self._lock:
                    self._write_errors += 1
                if sealed is not None:
                    # The records wait in the journal; they are retried from there.
                    log.warning(
                        "prediction log: writing %d record(s) of %s failed, retrying from the "
                        "journal in %s s: %s",
                        rows,
                        where,
                        self._interval,
                        exc,
                    )
                    unit_failed += rows
                elif not (self._sync or final):
                    log.warning(
                        "prediction log: writing %d record(s) of %s failed, retrying in %s s: %s",
                        rows,
                        where,
                        self._interval,
                        exc,
                    )
                    self._backoff_until = monotonic() + self._interval
                    continue
                else:
                    log.error(
                        "prediction log: writing %d record(s) of %s failed: %s", rows, where, exc
                    )
                    self._give_up(batch, key, rows, f"write failed: {exc}", final=final)
            else:
                with self._lock:
                    self._written += rows
                    self._files += 1
                    self._drained.notify_all()
            del self._encoded[key]
            self._encoded_rows -= rows
        if sealed is not None:
            self._finish_unit(sealed[0], sealed[1], unit_failed, failed=bool(unit_failed))

    def _give_up(
        self, batch: Batch, key: PartitionKey, rows: int, reason: str, *, final: bool
    ) -> None:
        batch.failed[key] = reason
        with self._lock:
            self._failed += rows
            if final:
                self._lost_at_close += rows
            self._drained.notify_all()
