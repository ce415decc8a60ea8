"""The prediction log's crash journal: every record on disk (in the kernel) before the answer.

In ``journal`` mode (the default) ``PredictionLog.log()`` appends each record, as one
line (see :func:`to_line`), to a local append-only file with ``write()`` before it
returns; the requests answered in one pass of the event loop share one ``write()``
(:mod:`stead.predictions.group_commit`). Once
``write()`` returned the kernel holds the bytes, so a process that dies (``kill -9``,
an out-of-memory kill, a crash) loses nothing it acknowledged; a machine crash loses at
most what was written since the last ``fsync`` (``[serving.log] sync_interval``).

Layout, below the log root::

    .journal/<writer>.lock                 held (flock) while the writer runs
    .journal/<writer>-<unit>-<n>.jsonl     segments, in the order written (one line a record)

The writer converts records to Parquet off the request path (see
:mod:`stead.predictions.writer`). A *unit* is what one Parquet flush writes: its
segments, and one file per partition named after it, ``part-j<writer>-<unit>.parquet``.
The segments are deleted once every file of their unit is in place, so a segment found
at start belongs to a unit that was not (wholly) converted. :func:`replay` converts the
segments of writers that are gone (their lock is free) and skips a partition whose
file of that unit already exists: no record is lost, none is written twice.

Each line is one record's fields, pickled and base64-encoded (see :func:`to_line`): any
Python text is written, even a lone surrogate, which UTF-8 cannot hold, and reading a
line never runs code. A line that does not parse back (a machine crash can leave a torn
or zeroed tail) is quarantined, not dropped silently.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import copy
import fcntl
import functools
import io
import json
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from stead.core.durable import fsync_path, make_dirs
from stead.data.sanitize import Sanitizer
from stead.predictions.layout import REFUSED_KEY, refused_text
from stead.predictions.record import PredictionRecord

JOURNAL_DIR = ".journal"
SEGMENT_SUFFIX = ".jsonl"
LOCK_SUFFIX = ".lock"
UNIT_PREFIX = "part-j"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

log = logging.getLogger("stead.predictions.writer")


def unit_file_name(writer: str, unit: int) -> str:
    """The Parquet file (in each partition) that holds a unit's records."""
    return f"{UNIT_PREFIX}{writer}-{unit:08d}.parquet"


def to_line(record: PredictionRecord) -> bytes:
    """One record as one line: its fields pickled (builtin values only), in base64.

    Pickle rather than JSON because the line is written before every answer: it costs
    about a third of ``json.dumps``. A value of another type is stored as a builtin
    first (a NumPy number as the number, a time as ISO text, anything else as its
    text), so :func:`from_line` needs no class but ``float``, ``int``, ``bool`` and
    ``str`` and refuses every other: reading a journal never runs code.
    """
    delta = record.timestamp - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    row = [
        record.request_id,
        micros,
        record.endpoint,
        record.revision,
        record.model_version,
        record.role,
        record.feature_set_version,
        record.snapshot,
        # A refused request is kept bounded from the start (see log_format).
        refused_text(record.inputs) if record.role == "rejected" else record.inputs,
        record.outputs,
        record.latency_ms,
        record.error,
        record.entity_key,
        record.explanation,
        list(record.out_of_range),
    ]
    buffer = io.BytesIO()
    _Pickler(buffer, 5).dump(row)
    return base64.b64encode(buffer.getvalue()) + b"\n"


def from_line(line: bytes) -> PredictionRecord:
    """The record of one journal line.

    Raises:
        ValueError: the line is not a journal line (torn, zeroed or edited).
    """
    try:
        row = _Unpickler(io.BytesIO(base64.b64decode(line.strip(), validate=True))).load()
    except (pickle.UnpicklingError, EOFError, binascii.Error, TypeError) as exc:
        raise ValueError(f"not a journal record: {exc}") from exc
    # 14 fields: a line written before out-of-range flags were logged.
    if not isinstance(row, list) or len(row) not in (14, 15):
        raise ValueError("not a journal record")
    (rid, micros, endpoint, revision, version, role, fsv, snapshot) = row[:8]
    (inputs, outputs, latency, error, entity_key, explanation) = row[8:14]
    flagged = row[14] if len(row) == 15 else []
    return PredictionRecord(
        request_id=rid,
        timestamp=EPOCH + timedelta(microseconds=micros),
        endpoint=endpoint,
        revision=revision,
        model_version=version,
        role=role,
        feature_set_version=fsv,
        snapshot=snapshot,
        inputs={REFUSED_KEY: inputs} if isinstance(inputs, str) else inputs,
        outputs=outputs,
        latency_ms=latency,
        error=error,
        entity_key=entity_key,
        explanation=explanation,
        out_of_range=tuple(flagged),
    )


_PLAIN = (type(None), bool, int, float, str, bytes, list, dict, tuple)
_ALLOWED = {("builtins", "float"), ("builtins", "int"), ("builtins", "bool"), ("builtins", "str")}


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        # Called for what is not an exact builtin: store it as one. The four builtin
        # types themselves are the globals the reductions below name.
        if type(obj) in _PLAIN or obj is bool or obj is int or obj is float or obj is str:
            return NotImplemented
        if isinstance(obj, np.generic):
            value = obj.item()
            if type(value) in (bool, int, float, str):
                return type(value), (value,)
        if isinstance(obj, datetime | date):
            return str, (obj.isoformat(),)
        if isinstance(obj, bool | int | float | str):  # subclasses (an enum, a NumPy float)
            base = next(t for t in (bool, int, float, str) if isinstance(obj, t))
            return base, (base(obj),)
        return str, (str(obj),)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return getattr(builtins, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a journal line")


def sanitized(record: PredictionRecord, sanitizer: Sanitizer) -> PredictionRecord:
    """``record`` as it may rest on disk: PII inputs and entity key hashed or dropped,
    raw PII values redacted from the error text."""
    if not sanitizer.active:
        return record
    pii = _pii_names(sanitizer, tuple(record.inputs))
    entity_key = record.entity_key
    hashes_key = entity_key is not None and sanitizer.entity_key_is_pii
    if not pii and not hashes_key:
        return record
    inputs = dict(record.inputs)
    raw = []
    for name in pii:
        value = inputs.pop(name)
        raw.append(value)
        if sanitizer.mode == "hash" and value is not None:
            inputs[name] = _hash(sanitizer, value)
    if hashes_key:
        raw.append(entity_key)
        entity_key = None if sanitizer.mode == "drop" else _hash(sanitizer, entity_key)
    error = record.error if record.error is None else sanitizer.redact(record.error, raw)
    clean = copy.copy(record)
    object.__setattr__(clean, "inputs", inputs)
    object.__setattr__(clean, "entity_key", entity_key)
    object.__setattr__(clean, "error", error)
    return clean


@functools.lru_cache(maxsize=256)
def _pii_names(sanitizer: Sanitizer, names: tuple[Any, ...]) -> tuple[Any, ...]:
    # Requests of one endpoint carry the same fields: decide per field set, not per value.
    return tuple(name for name in names if sanitizer.is_pii(str(name)))


def _hash(sanitizer: Sanitizer, value: Any) -> str:
    try:
        return sanitizer.hash_value(value)
    except UnicodeError:  # text UTF-8 cannot hold: hash its escaped form
        return sanitizer.hash_value(json.dumps(value, default=str))


class Segment:
    """One open journal segment: appended with ``write()``, fsync'd when asked."""

    __slots__ = ("fd", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class JournalOwner:
    """A writer's claim on its journal: the lock file, held until :meth:`release`."""

    def __init__(self, directory: Path, writer: str) -> None:
        self.directory = directory / JOURNAL_DIR
        self.writer = writer
        make_dirs(self.directory)
        self._lock_path = self.directory / f"{writer}{LOCK_SUFFIX}"
        self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def segment(self, unit: int, n: int) -> Segment:
        return Segment(self.directory / f"{self.writer}-{unit:08d}-{n:06d}{SEGMENT_SUFFIX}")

    def sync_directory(self) -> None:
        fsync_path(self.directory)

    def release(self) -> None:
        """Drop the claim (the writer's segments are all converted and deleted)."""
        with contextlib.suppress(OSError):
            self._lock_path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


@dataclass(frozen=True)
class LeftUnit:
    """The segments of one unit a dead writer left, in order."""

    writer: str
    unit: int
    segments: list[Path]

    def lines(self) -> Iterator[bytes]:
        for path in self.segments:
            with path.open("rb") as fh:
                yield from fh

    def remove(self) -> None:
        for path in self.segments:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def orphaned_units(directory: Path) -> Iterator[list[LeftUnit]]:
    """The units of writers that are gone; their locks are held while the caller converts.

    A writer that still runs (another worker process) holds its lock, and its segments
    are left alone.
    """
    root = directory / JOURNAL_DIR
    held: list[tuple[int, Path]] = []
    units: dict[tuple[str, int], list[Path]] = {}
    try:
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            names = []
        # Only writers that have segments: a lock file alone may be a writer starting
        # right now (it takes its lock before it makes its first segment).
        writers = {n.rsplit("-", 2)[0] for n in names if n.endswith(SEGMENT_SUFFIX)}
        claimed: set[str] = set()
        for writer in sorted(writers):
            lock = root / f"{writer}{LOCK_SUFFIX}"
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # its writer still runs
            held.append((fd, lock))
            claimed.add(writer)
        for name in names:
            if not name.endswith(SEGMENT_SUFFIX):
                continue
            writer, unit, _n = name[: -len(SEGMENT_SUFFIX)].rsplit("-", 2)
            if writer in claimed and unit.isdigit():
                units.setdefault((writer, int(unit)), []).append(root / name)
        yield [LeftUnit(w, u, paths) for (w, u), paths in sorted(units.items())]
    finally:
        for fd, lock in held:
            with contextlib.suppress(OSError):
                lock.unlink()
            os.close(fd)


def replay(
    directory: Path,
    convert: Callable[[LeftUnit, list[PredictionRecord], list[tuple[bytes, str]]], None],
) -> int:
    """Convert what dead writers left in the journal; return how many records were read.

    ``convert(unit, records, unreadable)`` writes the unit's records (skipping partitions
    whose unit file exists) and quarantines the unreadable lines; the unit's segments are
    deleted only when it returns.
    """
    count = 0
    with orphaned_units(directory) as units:
        for unit in units:
            records: list[PredictionRecord] = []
            unreadable: list[tuple[bytes, str]] = []
            for line in unit.lines():
                if not line.strip(b"\0\n "):
                    continue
                try:
                    records.append(from_line(line))
                except Exception as exc:  # torn, zeroed or edited: keep it, say why
                    unreadable.append((line, f"unreadable journal line: {exc}"))
            convert(unit, records, unreadable)
            unit.remove()
            count += len(records)
            log.info(
                "prediction log %s: replayed %d record(s) of an unfinished write (%s)",
                directory,
                len(records),
                unit.segments[0].name,
            )
    return count


def clean_temporary_files(directory: Path) -> int:
    """Remove the hidden ``.part-*.tmp`` files a crashed writer left; return how many.

    Only files older than a minute: a compaction or a writer of another process may be
    writing one right now.
    """
    removed = 0
    cutoff = datetime.now(UTC).timestamp() - 60
    for path in directory.glob("endpoint=*/date=*/.part-*.tmp"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
