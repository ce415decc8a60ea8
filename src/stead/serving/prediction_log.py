"""The prediction-log writer: a cheap ``log()`` on the request path, Parquet off it.

``log()`` appends the record to an in-memory queue and returns. One background thread
takes what is queued, groups it by endpoint and UTC day, and writes one Parquet file
per group (layout in :mod:`stead.serving.log_format`). Each file is written to a hidden
temporary name, fsync'd, renamed into place and its directory fsync'd: a reader never
sees a partial file and a written file survives a machine crash.

The writer shares the serving process, and turning Python records into Arrow columns
holds the GIL. Done once per flush, that is one stall of tens of milliseconds for every
request in flight (the p99 of a busy server). So in async mode the writer encodes as
soon as ``ENCODE_ROWS`` records are waiting, and what is left at the flush, in chunks of
at most ``ENCODE_ROWS``; it keeps the Arrow chunks until the flush, whose Parquet write
runs without the GIL. The same work, in pieces of about a millisecond, and no more
pieces than the traffic needs.

Modes:

- ``async`` (default): ``log()`` returns at once. The writer writes when ``batch_size``
  records are waiting or ``flush_interval`` seconds have passed, whichever comes first.
  :meth:`PredictionLog.close` writes everything still queued, so a graceful shutdown
  loses nothing; a crash loses at most what arrived in the last flush interval (plus
  the batch being written at that moment). A failed write (disk full, directory
  removed) is retried every flush interval; nothing is given up while the process runs.
- ``sync``: ``log()`` returns only once its record is in a fsync'd, renamed file.
  Concurrent callers are group-committed: all records waiting when the writer gets to
  them go into one file per partition and one fsync, so throughput grows with
  concurrency instead of paying one fsync per record. A failed write raises
  :class:`PredictionLogError` in each caller whose record it held.

When the queue is full (``capacity`` records waiting) ``log()`` blocks for up to
``full_timeout`` seconds while the writer catches up. If it is still full, async mode
drops the record, counts it in :attr:`LogStats.dropped` and logs a warning (at most one
every 10 s, with the running count) — the request is served, the loss is visible; sync
mode raises :class:`PredictionLogError`, since its caller is waiting for durability.

Create the log after forking worker processes: its thread does not survive a fork.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from time import monotonic
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from stead.core.errors import SteadError, UsageError
from stead.core.ids import new_id
from stead.serving.durable import make_dirs, write_atomically
from stead.serving.log_format import PART_PREFIX, PART_SUFFIX, combine, encode, partition_dir
from stead.serving.record import PredictionRecord
from stead.serving.sanitize import NO_PII, Sanitizer

Mode = Literal["async", "sync"]
MODES = ("async", "sync")
# How long interpreter exit waits for the last records to be written.
EXIT_TIMEOUT = 30.0
DROP_WARNING_EVERY = 10.0
# Async mode: encode queued records once this many wait (see above).
ENCODE_ROWS = 512

log = logging.getLogger("stead.serving.prediction_log")
PartitionKey = tuple[str, date]


class PredictionLogError(SteadError):
    """A prediction could not be logged (queue full in sync mode, write failed, closed)."""

    code = "prediction_log_error"
    http_status = 503


@dataclass(frozen=True)
class LogStats:
    """Counters since the log was opened.

    Every record handed to ``log()`` is counted exactly once in ``logged`` or
    ``dropped``; every logged record ends in ``written`` or ``failed`` or is still
    ``pending``.
    """

    logged: int
    written: int
    pending: int
    dropped: int
    failed: int
    files: int
    write_errors: int


class _Batch:
    """Records taken together by the writer; sync callers wait on ``done``."""

    __slots__ = ("done", "error", "failed", "first_at", "records")

    def __init__(self) -> None:
        self.records: list[PredictionRecord] = []
        self.first_at = 0.0  # monotonic time its first record arrived
        self.done = threading.Event()
        # Per partition, why its records were not written; ``error`` when none were.
        self.failed: dict[PartitionKey, str] = {}
        self.error: str | None = None


class PredictionLog:
    """Writes PredictionRecords to partitioned Parquet from a background thread.

    The thread starts with the object; call :meth:`close` (or use ``with``) to write
    what is queued and stop it. If the interpreter exits without ``close()``, an
    ``atexit`` hook closes the log, waiting up to 30 s.

    Args:
        directory: the log root; files go to ``endpoint=<name>/date=<day>/`` below it.
        mode: ``"async"`` or ``"sync"`` (see the module docstring).
        batch_size: write as soon as this many records are waiting.
        flush_interval: seconds a record may wait before it is written (async mode).
        capacity: most records not yet written (queued or encoded) before ``log()``
            blocks.
        full_timeout: seconds ``log()`` blocks on a full queue before dropping (async)
            or raising (sync).
        sanitizer: drops or hashes PII input columns before they reach disk.
        compression: the Parquet codec.

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
        mode: Mode = "async",
        batch_size: int = 10_000,
        flush_interval: float = 1.0,
        capacity: int = 100_000,
        full_timeout: float = 1.0,
        sanitizer: Sanitizer = NO_PII,
        compression: str = "zstd",
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"prediction log mode {mode!r} is not one of 'async', 'sync'")
        if batch_size < 1 or capacity < batch_size:
            raise UsageError(
                f"prediction log batch_size = {batch_size} and capacity = {capacity}: "
                "need 1 <= batch_size <= capacity"
            )
        if flush_interval <= 0 or full_timeout < 0:
            raise UsageError(
                f"prediction log flush_interval = {flush_interval} must be > 0 and "
                f"full_timeout = {full_timeout} must be >= 0"
            )
        self.directory = Path(directory)
        self.mode: Mode = mode
        self._sync = mode == "sync"
        self._batch_size = batch_size
        self._interval = flush_interval
        self._capacity = capacity
        self._full_timeout = full_timeout
        self._sanitizer = sanitizer
        self._compression = compression

        self._encode_rows = min(ENCODE_ROWS, batch_size)

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the writer waits for work here
        # Producers wait here for room, flush() for its records: both for writes.
        self._drained = threading.Condition(self._lock)
        self._open = _Batch()
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
        self._known_dirs: set[Path] = set()
        self._logged = self._written = self._dropped = self._failed = 0
        self._files = self._write_errors = 0
        self._lost_at_close = 0

        self._thread = threading.Thread(
            target=self._run, name=f"stead-prediction-log-{self.directory.name}", daemon=True
        )
        self._thread.start()
        atexit.register(self._close_at_exit)

    # -- the caller's side ------------------------------------------------------------

    def log(self, record: PredictionRecord) -> None:
        """Queue one record; in sync mode, return once it is durable on disk.

        Raises:
            PredictionLogError: the log is closed or its writer stopped; in sync mode
                also when the record could not be written or the queue stayed full.
        """
        if self._sync:
            self._commit([record])
            return
        with self._lock:
            if self._closing or self._broken:
                raise self._unavailable()
            if self._waiting() >= self._capacity and not self._await_room(1):
                self._drop(1)
                return
            records = self._open.records
            records.append(record)
            self._logged += 1
            n = len(records)
            if n == 1:
                self._open.first_at = monotonic()
                self._wake.notify()
            elif n == self._encode_rows:
                self._wake.notify()

    def log_many(self, records: Iterable[PredictionRecord]) -> None:
        """Queue several records at once (one lock, one wake-up); same rules as log()."""
        batch = list(records)
        if not batch:
            return
        if self._sync:
            self._commit(batch)
            return
        with self._lock:
            if self._closing or self._broken:
                raise self._unavailable()
            if self._waiting() + len(batch) > self._capacity and not self._await_room(len(batch)):
                self._drop(len(batch))
                return
            records = self._open.records
            if not records:
                self._open.first_at = monotonic()
            records.extend(batch)
            self._logged += len(batch)
            if len(records) == len(batch) or len(records) >= self._encode_rows:
                self._wake.notify()

    def _commit(self, records: list[PredictionRecord]) -> None:
        with self._lock:
            if self._closing or self._broken:
                raise self._unavailable()
            if self._waiting() + len(records) > self._capacity and not self._await_room(
                len(records)
            ):
                self._dropped += len(records)
                raise PredictionLogError(
                    f"the prediction log at {self.directory} stayed full for "
                    f"{self._full_timeout} s; {len(records)} record(s) not logged. The disk "
                    "is too slow for the load: raise [serving.log] capacity or full_timeout, "
                    "or use faster storage"
                )
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

    def _waiting(self) -> int:
        # Called with the lock held: records logged and not yet written or given up.
        return self._logged - self._written - self._failed

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
            True when every record logged before the call is written (or failed and
            counted), False when ``timeout`` seconds passed first. In async mode a
            failing disk is retried, so ``timeout=None`` waits until it works again.
        """
        with self._lock:
            target = self._logged
            self._flush_wanted = True
            self._wake.notify()
            deadline = None if timeout is None else monotonic() + timeout
            while self._written + self._failed < target and self._broken is None:
                remaining = None if deadline is None else deadline - monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._drained.wait(remaining)
            return self._written + self._failed >= target

    def close(self, timeout: float | None = None) -> LogStats:
        """Write everything still queued, stop the writer and return the final counters.

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
                pending=self._logged - self._written - self._failed,
                dropped=self._dropped,
                failed=self._failed,
                files=self._files,
                write_errors=self._write_errors,
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
            steps.append(self._open.first_at + self._interval - now)
        if self._encoded_rows:
            full = self._encoded_rows >= self._batch_size
            steps.append(
                (self._backoff_until if full else max(self._write_at, self._backoff_until)) - now
            )
        return max(0.0, min(steps)) if steps else None

    def _run(self) -> None:
        batch = self._open
        try:
            while True:
                with self._lock:
                    while (step := self._next_step()) is None or step > 0:
                        self._wake.wait(step)
                    batch, self._open = self._open, _Batch()
                    flush = self._sync or self._flush_wanted or self._closing
                    self._flush_wanted = False
                    closing = self._closing
                if batch.records:
                    self._encode(batch, final=closing)
                now = monotonic()
                if self._encoded_rows and (
                    flush
                    or (
                        now >= self._backoff_until
                        and (now >= self._write_at or self._encoded_rows >= self._batch_size)
                    )
                ):
                    self._write(batch, final=closing)
                batch.done.set()
                if closing:
                    with self._lock:
                        if not self._open.records:
                            self._drained.notify_all()
                            return
        except BaseException as exc:
            # A bug, not an I/O error: fail loudly and release every waiting caller.
            log.exception("prediction log writer for %s stopped", self.directory)
            with self._lock:
                self._broken = exc
                for waiting in {id(batch): batch, id(self._open): self._open}.values():
                    waiting.error = f"the writer stopped: {exc!r}"
                    waiting.done.set()
                self._drained.notify_all()

    def _encode(self, batch: _Batch, *, final: bool) -> None:
        groups: dict[PartitionKey, list[PredictionRecord]] = {}
        for record in batch.records:
            key = (record.endpoint, record.timestamp.date())
            group = groups.get(key)
            if group is None:
                groups[key] = [record]
            else:
                group.append(record)
        if not self._encoded:
            self._write_at = batch.first_at + self._interval
        # Chunk by chunk, dropping each chunk's records once encoded: neither the
        # conversion nor the freeing holds the GIL for long.
        batch.records = []
        step = self._encode_rows
        for key, records in groups.items():
            while records:
                chunk = records[:step]
                del records[:step]
                try:
                    table = encode(chunk, self._sanitizer)
                except Exception as exc:
                    # Retrying cannot help a record that does not encode: give it up loudly.
                    log.exception(
                        "prediction log: %d record(s) of %s could not be encoded", *_n(chunk, key)
                    )
                    self._give_up(batch, key, len(chunk), f"could not encode: {exc!r}", final=final)
                    continue
                self._encoded.setdefault(key, []).append(table)
                self._encoded_rows += len(chunk)

    def _write(self, batch: _Batch, *, final: bool) -> None:
        for key in list(self._encoded):
            chunks = self._encoded[key]
            rows = sum(chunk.num_rows for chunk in chunks)
            where = f"endpoint={key[0]}/date={key[1].isoformat()}"
            try:
                self._write_file(partition_dir(self.directory, *key), combine(chunks))
            except OSError as exc:
                with self._lock:
                    self._write_errors += 1
                if not (self._sync or final):
                    log.warning(
                        "prediction log: writing %d record(s) of %s failed, retrying in %s s: %s",
                        rows,
                        where,
                        self._interval,
                        exc,
                    )
                    self._backoff_until = monotonic() + self._interval
                    continue
                log.error("prediction log: writing %d record(s) of %s failed: %s", rows, where, exc)
                self._give_up(batch, key, rows, f"write failed: {exc}", final=final)
            else:
                with self._lock:
                    self._written += rows
                    self._files += 1
                    self._drained.notify_all()
            del self._encoded[key]
            self._encoded_rows -= rows

    def _give_up(
        self, batch: _Batch, key: PartitionKey, rows: int, reason: str, *, final: bool
    ) -> None:
        batch.failed[key] = reason
        with self._lock:
            self._failed += rows
            if final:
                self._lost_at_close += rows
            self._drained.notify_all()

    def _write_file(self, directory: Path, table: pa.Table) -> None:
        path = directory / f"{PART_PREFIX}{new_id()}{PART_SUFFIX}"
        try:
            self._write_into(directory, path, table)
        except FileNotFoundError:
            # The directory was removed under us (retention): make it again, once.
            self._known_dirs.discard(directory)
            self._write_into(directory, path, table)

    def _write_into(self, directory: Path, path: Path, table: pa.Table) -> None:
        if directory not in self._known_dirs:
            make_dirs(directory)
            self._known_dirs.add(directory)
        write_atomically(
            path, lambda tmp: pq.write_table(table, tmp, compression=self._compression)
        )


def _n(records: list[PredictionRecord], key: PartitionKey) -> tuple[int, str]:
    return len(records), f"endpoint={key[0]}/date={key[1].isoformat()}"
