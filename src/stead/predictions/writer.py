"""The prediction-log writer: a cheap ``log()`` on the request path, Parquet off it.

``log()`` appends the record to an in-memory queue (in journal mode, after writing it to
the crash journal) and returns. One background thread (its work in
:mod:`stead.predictions.write_units`) takes what is queued, groups it by endpoint and UTC
day, and writes one Parquet file per group (layout in :mod:`stead.predictions.layout`).
Each file is written to a hidden temporary name, fsync'd, renamed into place and its
directory fsync'd: a reader never sees a partial file and a written file survives a
machine crash.

The writer shares the serving process, and turning Python records into Arrow columns
holds the GIL. Done once per flush, that is one stall of tens of milliseconds for every
request in flight (the p99 of a busy server). So the writer encodes as
soon as ``ENCODE_ROWS`` records are waiting, and what is left at the flush, in chunks of
at most ``ENCODE_ROWS``; it keeps the Arrow chunks until the flush, whose Parquet write
runs without the GIL. The same work, in pieces of about a millisecond, and no more
pieces than the traffic needs.

Modes:

- ``journal`` (default): before ``log()`` returns, the record is appended to the crash
  journal (:mod:`stead.predictions.journal`) with one ``write()``: a process that dies
  loses nothing it acknowledged. The journal is fsync'd every ``sync_interval`` seconds
  (a machine crash loses at most that). Parquet is written off the request path as in
  ``async`` mode; a journal unit is deleted once its Parquet files are in place, and
  what a dead process left is converted when the next log opens on the directory. A
  failed Parquet write leaves the records in the journal and is retried from there
  every flush interval; at close they stay in the journal for the next start.
- ``async``: ``log()`` returns at once; the record is only in memory until written.
  The writer writes when ``batch_size`` records are waiting or ``flush_interval``
  seconds have passed, whichever comes first. :meth:`PredictionLog.close` writes
  everything still queued, so a graceful shutdown loses nothing; a crash loses at most
  what arrived in the last flush interval (plus the batch being written at that
  moment). A failed write (disk full, directory removed) is retried every flush
  interval; nothing is given up while the process runs.
- ``sync``: ``log()`` returns only once its record is in a fsync'd, renamed file.
  Concurrent callers are group-committed: all records waiting when the writer gets to
  them go into one file per partition and one fsync, so throughput grows with
  concurrency instead of paying one fsync per record. A failed write raises
  :class:`PredictionLogError` in each caller whose record it held.

A record the writer cannot encode (a lone UTF-16 surrogate, a value Arrow refuses) is
moved to the quarantine (:mod:`stead.predictions.quarantine`) with the reason, counted
in :attr:`LogStats.quarantined` and reported to ``on_quarantine``; the other records of
its batch are written as usual.

When the queue is full (``capacity`` records waiting) ``log()`` blocks for up to
``full_timeout`` seconds while the writer catches up. If it is still full, async mode
drops the record, counts it in :attr:`LogStats.dropped` and logs a warning (at most one
every 10 s, with the running count) — the request is served, the loss is visible; sync
and journal modes raise :class:`PredictionLogError`, since an acknowledged record must
not be lost.

Create the log after forking worker processes: its thread does not survive a fork.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Literal

import pyarrow as pa

from stead.core.errors import SteadError, UsageError
from stead.core.ids import new_id
from stead.data.sanitize import NO_PII, Sanitizer
from stead.predictions.journal import JournalOwner, Segment, sanitized, to_line
from stead.predictions.part_files import PartitionKey, PartWriter
from stead.predictions.record import PredictionRecord
from stead.predictions.write_units import Batch, QuarantineListener, WriterWork

Mode = Literal["journal", "async", "sync"]
MODES = ("journal", "async", "sync")
# How long interpreter exit waits for the last records to be written.
EXIT_TIMEOUT = 30.0
DROP_WARNING_EVERY = 10.0
# Async mode: encode queued records once this many wait (see above).
ENCODE_ROWS = 512

log = logging.getLogger("stead.predictions.writer")


class PredictionLogError(SteadError):
    """A prediction could not be logged (queue full in sync mode, write failed, closed)."""

    code = "prediction_log_error"
    http_status = 503


@dataclass(frozen=True)
class LogStats:
    """Counters since the log was opened.

    Every record handed to ``log()`` is counted exactly once in ``logged``,
    ``dropped`` or ``quarantined`` (a record the journal could not hold); every logged
    record ends in ``written``, ``quarantined``, ``failed`` or is still ``pending``.
    ``replayed`` counts the records of earlier, crashed writers converted at start.
    """

    logged: int
    written: int
    pending: int
    dropped: int
    failed: int
    files: int
    write_errors: int
    quarantined: int = 0
    replayed: int = 0


class PredictionLog(WriterWork):
    """Writes PredictionRecords to partitioned Parquet from a background thread.

    The thread starts with the object; call :meth:`close` (or use ``with``) to write
    what is queued and stop it. If the interpreter exits without ``close()``, an
    ``atexit`` hook closes the log, waiting up to 30 s. The thread first removes the
    temporary files and converts the journal units crashed writers left in
    ``directory``.

    Args:
        directory: the log root; files go to ``endpoint=<name>/date=<day>/`` below it.
        mode: ``"journal"``, ``"async"`` or ``"sync"`` (see the module docstring).
        batch_size: write as soon as this many records are waiting.
        flush_interval: seconds a record may wait before it is written (journal and
            async modes).
        sync_interval: seconds between fsyncs of the journal (journal mode); at most
            ``flush_interval``.
        capacity: most records not yet written (queued or encoded) before ``log()``
            blocks.
        full_timeout: seconds ``log()`` blocks on a full queue before dropping (async)
            or raising (journal, sync).
        sanitizer: drops or hashes PII input columns before they reach disk.
        compression: the Parquet codec.
        on_quarantine: called with (endpoint, reason) for each quarantined record
            (a metrics counter), from the writer's thread.

    Raises:
        UsageError: a parameter is out of range.

    Example::

        with PredictionLog(ws.settings.state_dir / "predictions") as plog:
            plog.log(record)
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        mode: Mode = "journal",
        batch_size: int = 10_000,
        flush_interval: float = 1.0,
        sync_interval: float = 0.2,
        capacity: int = 100_000,
        full_timeout: float = 1.0,
        sanitizer: Sanitizer = NO_PII,
        compression: str = "zstd",
        on_quarantine: QuarantineListener | None = None,
    ) -> None:
        if mode not in MODES:
            raise UsageError(
                f"prediction log mode {mode!r} is not one of 'journal', 'async', 'sync'"
            )
        if batch_size < 1 or capacity < batch_size:
            raise UsageError(
                f"prediction log batch_size = {batch_size} and capacity = {capacity}: "
                "need 1 <= batch_size <= capacity"
            )
        if flush_interval <= 0 or full_timeout < 0 or sync_interval <= 0:
            raise UsageError(
                f"prediction log flush_interval = {flush_interval} and sync_interval = "
                f"{sync_interval} must be > 0 and full_timeout = {full_timeout} must be >= 0"
            )
        self.directory = Path(directory)
        self.mode: Mode = mode
        self._sync = mode == "sync"
        self._journaled = mode == "journal"
        self._batch_size = batch_size
        self._interval = flush_interval
        # The writer steps at least this often: each step fsyncs the journal.
        self._step_interval = (
            min(sync_interval, flush_interval) if self._journaled else flush_interval
        )
        self._capacity = capacity
        self._full_timeout = full_timeout
        self._sanitizer = sanitizer
        # Journal mode sanitises once, on the caller's side, for the journal and the
        # Parquet files alike: the writer then encodes without sanitising again.
        self._encode_sanitizer = NO_PII if self._journaled else sanitizer
        self._on_quarantine = on_quarantine
        self._parts = PartWriter(self.directory, compression=compression)

        self._encode_rows = min(ENCODE_ROWS, batch_size)

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the writer waits for work here
        # Producers wait here for room, flush() for its records: both for writes.
        self._drained = threading.Condition(self._lock)
        self._open = Batch()
        # The writer thread's own: encoded chunks per partition, waiting for the flush.
        self._encoded: dict[PartitionKey, list[pa.Table]] = {}
        self._encoded_rows = 0
        self._write_at = 0.0  # when the oldest encoded record is due on disk
        self._flush_wanted = False
        self._closing = False
        self._closed = False
        self._broken: BaseException | None = None
        self._backoff_until = 0.0
        self._next_drop_warning = 0.0
        self._logged = self._written = self._dropped = self._failed = 0
        self._files = self._write_errors = 0
        self._quarantined = self._replayed = 0
        self._quarantined_late = 0  # quarantined after they were counted as logged
        self._lost_at_close = 0
        self._started = threading.Event()  # temporary files cleaned, journal replayed

        # Journal mode: the unit being filled, its segment, and units whose Parquet
        # write failed (retried from their segments on disk).
        self._writer_id = new_id()
        self._owner: JournalOwner | None = None
        self._unit = 0
        self._segments: list[Segment] = []
        self._unit_rows = 0
        self._stalled: list[tuple[int, list[Segment], int]] = []
        self._stalled_rows = 0
        if self._journaled:
            try:
                self._owner = JournalOwner(self.directory, self._writer_id)
                self._segments = [self._owner.segment(self._unit, 0)]
            except OSError as exc:
                raise PredictionLogError(
                    f"cannot open the prediction log journal in {self.directory}: {exc}; "
                    "check the directory exists and is writable, or set [serving.log] dir"
                ) from exc

        self._thread = threading.Thread(
            target=self._run, name=f"stead-prediction-log-{self.directory.name}", daemon=True
        )
        self._thread.start()
        atexit.register(self._close_at_exit)

    # -- the caller's side ------------------------------------------------------------

    def log(self, record: PredictionRecord) -> None:
        """Log one record; see :meth:`log_many`."""
        self.log_many((record,))

    def log_many(self, records: Iterable[PredictionRecord]) -> None:
        """Log several records at once (one lock, one ``write()``, one wake-up).

        Returns once the records are in the journal (journal mode), queued (async) or
        durable in Parquet (sync).

        Raises:
            PredictionLogError: the log is closed or its writer stopped; in journal and
                sync modes also when the queue stayed full, and in sync mode when the
                records could not be written.
        """
        batch = list(records)
        if not batch:
            return
        if self._sync:
            self._commit(batch)
            return
        data = b""
        if self._journaled:
            batch, data = self._lines(batch)
            if not batch:
                return
        with self._lock:
            if self._closing or self._broken:
                raise self._unavailable()
            if self._waiting() + len(batch) > self._capacity and not self._await_room(len(batch)):
                if self._journaled:
                    self._dropped += len(batch)
                    raise self._full(len(batch))
                self._drop(len(batch))
                return
            if data:
                try:
                    self._segments[-1].append(data)
                except OSError as exc:
                    self._dropped += len(batch)
                    raise PredictionLogError(
                        f"{len(batch)} prediction(s) could not be written to the journal in "
                        f"{self.directory}: {exc}"
                    ) from exc
                self._unit_rows += len(batch)
            records = self._open.records
            if not records:
                self._open.first_at = monotonic()
            records.extend(batch)
            self._logged += len(batch)
            if len(records) == len(batch) or len(records) >= self._encode_rows:
                self._wake.notify()

    def _lines(self, batch: list[PredictionRecord]) -> tuple[list[PredictionRecord], bytes]:
        # Sanitised and serialised on the caller's thread, outside the lock. A record
        # that cannot be serialised is quarantined here; the others go on, sanitised.
        lines = []
        kept = []
        for record in batch:
            try:
                clean = sanitized(record, self._sanitizer)
                lines.append(to_line(clean))
            except (ValueError, TypeError, UnicodeError) as exc:
                self._reject(record, f"could not journal: {exc!r}", self._sanitizer, counted=False)
                continue
            kept.append(clean)
        return kept, b"".join(lines)

    def _commit(self, records: list[PredictionRecord]) -> None:
        with self._lock:
            if self._closing or self._broken:
                raise self._unavailable()
            if self._waiting() + len(records) > self._capacity and not self._await_room(
                len(records)
            ):
                self._dropped += len(records)
                raise self._full(len(records))
            batch = self._open
            batch.records.extend(records)
            self._logged += len(records)
            self._wake.notify()
        batch.done.wait()
        if batch.error is not None:
            raise PredictionLogError(
                f"{len(records)} prediction(s) were not logged to {self.directory}: {batch.error}"
            )
        if batch.failed:
            for r in records:
                reason = batch.failed.get((r.endpoint, r.day))
                if reason is not None:
                    raise PredictionLogError(
                        f"prediction {r.request_id} was not logged to {self.directory}: {reason}"
                    )

    def _full(self, n: int) -> PredictionLogError:
        return PredictionLogError(
            f"the prediction log at {self.directory} stayed full for "
            f"{self._full_timeout} s; {n} record(s) not logged. The disk "
            "is too slow for the load: raise [serving.log] capacity or full_timeout, "
            "or use faster storage"
        )

    def _settled(self) -> int:
        # Called with the lock held: logged records that are written or given up.
        return self._written + self._failed + self._quarantined_late

    def _waiting(self) -> int:
        # Called with the lock held: records logged and not yet written or given up,
        # less those of stalled units (they wait on disk, not in memory).
        return self._logged - self._settled() - self._stalled_rows

    def _await_room(self, n: int) -> bool:
        # Called with the lock held. An oversized log_many is let in when nothing is
        # waiting, so it cannot wait forever for room that will never exist.
        deadline = monotonic() + self._full_timeout
        while (waiting := self._waiting()) and waiting + n > self._capacity:
            if self._closing or self._broken:
                raise self._unavailable()
            remaining = deadline - monotonic()
            if remaining <= 0:
                return False
            self._flush_wanted = True  # memory is short: write now, not at the interval
            self._wake.notify()
            self._drained.wait(remaining)
        return True

    def _drop(self, n: int) -> None:
        self._dropped += n
        now = monotonic()
        if now >= self._next_drop_warning:
            self._next_drop_warning = now + DROP_WARNING_EVERY
            log.warning(
                "prediction log %s: queue full for %s s, %d record(s) dropped so far; raise "
                "[serving.log] capacity or full_timeout, or use faster storage",
                self.directory,
                self._full_timeout,
                self._dropped,
            )

    def _unavailable(self) -> PredictionLogError:
        if self._broken is not None:
            return PredictionLogError(
                f"the prediction log writer for {self.directory} stopped: {self._broken!r}; "
                "restart the server"
            )
        return PredictionLogError(f"the prediction log at {self.directory} is closed")

    # -- flushing, closing, counters ----------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything logged so far now; wait until it is written or given up.

        Returns:
            True when every record logged before the call is written (or failed,
            quarantined and counted), False when ``timeout`` seconds passed first. A
            failing disk is retried, so ``timeout=None`` waits until it works again.
        """
        deadline = None if timeout is None else monotonic() + timeout
        if not self._started.wait(timeout):
            return False
        with self._lock:
            target = self._logged
            self._flush_wanted = True
            self._wake.notify()
            while self._settled() < target and self._broken is None:
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._drained.wait(remaining)
            return self._settled() >= target

    def close(self, timeout: float | None = None) -> LogStats:
        """Write everything still queued, stop the writer and return the final counters.

        In journal mode, records whose Parquet write keeps failing stay in the journal
        (a warning says how many) and are converted when a log next opens here.

        Raises:
            PredictionLogError: the writer did not finish within ``timeout``, or records
                queued at close could not be written (they are lost; the message says
                how many and why).
        """
        if self._closed:
            return self.stats()
        with self._lock:
            self._closing = True
            self._wake.notify()
            self._drained.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            stats = self.stats()
            raise PredictionLogError(
                f"the prediction log at {self.directory} did not finish writing within "
                f"{timeout} s; {stats.pending} record(s) still pending"
            )
        self._closed = True
        atexit.unregister(self._close_at_exit)
        if self._lost_at_close:
            raise PredictionLogError(
                f"{self._lost_at_close} prediction record(s) could not be written to "
                f"{self.directory} at close and are lost; see the log for the error"
            )
        return self.stats()

    def _close_at_exit(self) -> None:
        try:
            self.close(EXIT_TIMEOUT)
        except PredictionLogError as exc:
            log.error("%s", exc)

    def stats(self) -> LogStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return LogStats(
                logged=self._logged,
                written=self._written,
                pending=self._logged - self._settled(),
                dropped=self._dropped,
                failed=self._failed,
                files=self._files,
                write_errors=self._write_errors,
                quarantined=self._quarantined,
                replayed=self._replayed,
            )

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ----------------------------------------------------------------

    def _next_step(self) -> float | None:
        """Seconds until the writer has work (0: now; None: when woken). Lock held."""
        if self._closing or self._flush_wanted:
            return 0.0
        now = monotonic()
        steps = []
        queued = len(self._open.records)
        if queued:
            if self._sync or queued >= self._encode_rows:
                return 0.0
            steps.append(self._open.first_at + self._step_interval - now)
        if self._encoded_rows:
            full = self._encoded_rows >= self._batch_size
            steps.append(
                (self._backoff_until if full else max(self._write_at, self._backoff_until)) - now
            )
        if self._stalled:
            steps.append(self._backoff_until - now)
        return max(0.0, min(steps)) if steps else None

    def _due(self, batch: Batch, now: float, flush: bool) -> bool:
        """Whether this step writes Parquet (lock held, before ``batch`` is encoded)."""
        rows = self._encoded_rows + len(batch.records)
        if not rows and not self._unit_rows:
            return False
        if flush:
            return True
        if now < self._backoff_until:
            return False
        write_at = self._write_at if self._encoded_rows else batch.first_at + self._interval
        return now >= write_at or rows >= self._batch_size

    def _run(self) -> None:
        batch = self._open
        try:
            self._start()
            while True:
                with self._lock:
                    while (step := self._next_step()) is None or step > 0:
                        self._wake.wait(step)
                    batch, self._open = self._open, Batch()
                    flush = self._sync or self._flush_wanted or self._closing
                    self._flush_wanted = False
                    closing = self._closing
                    write = self._due(batch, monotonic(), flush)
                    sealed = None
                    if write and self._journaled:
                        try:
                            sealed = self._seal()
                        except OSError as exc:  # no new segment: keep filling this unit
                            log.warning("prediction log: cannot start a journal unit: %s", exc)
                            self._backoff_until = monotonic() + self._interval
                            write = False
                    elif self._journaled and batch.records:
                        self._rotate()
                if self._journaled:
                    self._sync_journal(sealed)
                if batch.records:
                    self._encode(batch, final=closing)
                if write and self._encoded_rows:
                    self._write(batch, sealed, final=closing)
                elif sealed is not None:
                    self._finish_unit(*sealed, failed=False)
                if self._stalled and (closing or monotonic() >= self._backoff_until):
                    self._retry_stalled(final=closing)
                batch.done.set()
                if closing:
                    with self._lock:
                        if not self._open.records:
                            self._drained.notify_all()
                            break
            self._stop_journal()
        except BaseException as exc:
            # A bug, not an I/O error: fail loudly and release every waiting caller.
            log.exception("prediction log writer for %s stopped", self.directory)
            with self._lock:
                self._broken = exc
                for waiting in {id(batch): batch, id(self._open): self._open}.values():
                    waiting.error = f"the writer stopped: {exc!r}"
                    waiting.done.set()
                self._drained.notify_all()
        finally:
            self._started.set()
