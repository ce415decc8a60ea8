"""Compaction of the prediction log: a closed day's many small part files merged into few.

The writer makes one file per flush interval per worker: 86,400 files a day for a busy
endpoint at the default 1 s. Reading costs about a millisecond per file, so a monitor
reading a day spends minutes opening files. Compaction rewrites a day that is over into
files of up to ``target_rows`` rows (large row groups, sorted as the parts were: by
name, which starts with the write time).

Safe beside readers, writers and crashes:

- **Closed days only.** A day is compacted once it ended ``settle`` ago (default one
  hour), long after the last flush that could hold its records. A part that still lands
  later is not lost: it is live beside the compacted file and merged by the next run.
- **Atomic replacement.** A compacted file ``part-c-<id>.parquet`` names the files it
  replaces in its footer and appears with one rename. Readers list a day with
  :func:`~stead.predictions.layout.live_part_files`, which leaves out what a compacted
  file replaces: any listing sees either the originals or the compacted file, never
  both as live rows.
- **Deleted later, in order.** Replaced files stay until their compacted file is
  ``keep_replaced`` old (default one hour), so a reader that listed the originals just
  before the rename still finds them; a later run deletes them (the *vacuum*). Plain
  parts go before a replaced compacted file, and a compacted file goes only when none
  of the files it replaces remain, so no file ever becomes live again after a crash.
- **One compaction per day at a time.** An exclusive lock on ``.compact.lock`` in the
  day's directory; a day another process is compacting is skipped and reported busy.
- A crash leaves at most a hidden temporary file (readers never see it; the next run
  removes it) or replaced files not yet deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from stead.core.clock import utcnow
from stead.core.durable import fsync_path, write_atomically
from stead.core.errors import UsageError
from stead.core.ids import new_id
from stead.predictions.layout import (
    COMPACTED_PREFIX,
    METADATA,
    PART_SUFFIX,
    REPLACES_KEY,
    is_part_file,
    live_part_files,
    logged_days,
    logged_endpoints,
    replaced_by,
    unify_schemas,
)
from stead.predictions.record import check_endpoint

SETTLE = timedelta(hours=1)
KEEP_REPLACED = timedelta(hours=1)
TARGET_ROWS = 5_000_000
ROW_GROUP_ROWS = 131_072
LOCK_FILE = ".compact.lock"


@dataclass(frozen=True)
class DayCompaction:
    """What compaction did (or, in a dry run, would do) to one endpoint's day.

    Attributes:
        files_before: live part files before; ``files_after`` after.
        rows: rows copied into new compacted files.
        bytes_before: size of the files merged; ``bytes_after`` of what replaced them.
        vacuumed: replaced files deleted (their compacted file was old enough).
        busy: another process was compacting the day; nothing was done.
        damaged: part files whose footer could not be read: left in place and out of
            every merge (readers fail on them too: move them out of the log).
    """

    endpoint: str
    day: date
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    vacuumed: int = 0
    busy: bool = False
    damaged: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.files_after != self.files_before or self.vacuumed > 0


@dataclass(frozen=True)
class CompactionReport:
    """Every closed day looked at, in endpoint and day order."""

    dry_run: bool
    closed_before: date
    days: list[DayCompaction] = field(default_factory=list)

    @property
    def changed(self) -> list[DayCompaction]:
        return [d for d in self.days if d.changed]


def compact_log(
    directory: str | os.PathLike[str],
    endpoint: str | None = None,
    *,
    settle: timedelta = SETTLE,
    keep_replaced: timedelta = KEEP_REPLACED,
    target_rows: int = TARGET_ROWS,
    dry_run: bool = False,
    now: datetime | None = None,
) -> CompactionReport:
    """Compact every closed day of ``endpoint`` (or of every endpoint) under ``directory``.

    Args:
        settle: how long after its end a day is closed (no writer adds to it any more).
        keep_replaced: how long replaced files stay for readers that listed them.
        target_rows: most rows per compacted file.
        dry_run: only count; nothing is written or deleted.
        now: the reference time (default ``utcnow()``, which honours ``STEAD_NOW``).

    Raises:
        UsageError: a bad endpoint name or a negative duration or row count.
    """
    if settle < timedelta(0) or keep_replaced < timedelta(0):
        raise UsageError(
            f"settle = {settle} and keep_replaced = {keep_replaced} must not be negative"
        )
    if target_rows < 1:
        raise UsageError(f"target_rows = {target_rows} must be at least 1")
    root = Path(directory)
    names = [check_endpoint(endpoint)] if endpoint is not None else logged_endpoints(root)
    # A day is closed when all of it ended at least ``settle`` ago.
    closed_before = ((now or utcnow()).astimezone(UTC) - settle).date()
    report = CompactionReport(dry_run=dry_run, closed_before=closed_before)
    for name in names:
        for day, day_dir in logged_days(root, name):
            if day < closed_before:
                report.days.append(
                    _compact_day(day_dir, name, day, keep_replaced, target_rows, dry_run)
                )
    return report


def _compact_day(
    day_dir: Path,
    endpoint: str,
    day: date,
    keep_replaced: timedelta,
    target_rows: int,
    dry_run: bool,
) -> DayCompaction:
    # A dry run changes nothing, so it takes no lock (and works on a read-only log).
    with contextlib.nullcontext(True) if dry_run else _day_lock(day_dir) as locked:
        if not locked:
            return DayCompaction(endpoint, day, busy=True)
        if not dry_run:
            _remove_temporaries(day_dir)
        live = live_part_files(day_dir)
        rows, damaged = _row_counts(day_dir, live)
        merged = rows_copied = bytes_before = bytes_after = groups = 0
        for group in _groups([n for n in live if n in rows], rows, target_rows):
            groups += 1
            merged += len(group)
            rows_copied += sum(rows[n] for n in group)
            bytes_before += sum((day_dir / n).stat().st_size for n in group)
            if not dry_run:
                bytes_after += _merge(day_dir, group).stat().st_size
        # After the merge, so that keep_replaced = 0 deletes what this run replaced.
        vacuumed = _vacuum(day_dir, keep_replaced.total_seconds(), dry_run)
        return DayCompaction(
            endpoint,
            day,
            files_before=len(live),
            files_after=len(live) - merged + groups,
            rows=rows_copied,
            bytes_before=bytes_before,
            bytes_after=bytes_after,
            vacuumed=vacuumed,
            damaged=tuple(damaged),
        )


def _row_counts(day_dir: Path, names: list[str]) -> tuple[dict[str, int], list[str]]:
    """Rows per part file from its footer, and the files whose footer is unreadable."""
    rows: dict[str, int] = {}
    damaged: list[str] = []
    for name in names:
        try:
            rows[name] = pq.read_metadata(day_dir / name).num_rows
        except (OSError, ValueError):  # ArrowInvalid is a ValueError
            damaged.append(name)
    return rows, damaged


def _groups(names: list[str], rows: dict[str, int], target_rows: int) -> list[list[str]]:
    """Consecutive files (name order) of at most ``target_rows`` rows; only groups of 2+."""
    groups: list[list[str]] = []
    current: list[str] = []
    total = 0
    for name in names:
        if current and total + rows[name] > target_rows:
            groups.append(current)
            current, total = [], 0
        current.append(name)
        total += rows[name]
    groups.append(current)
    return [g for g in groups if len(g) > 1]


def _merge(day_dir: Path, names: list[str]) -> Path:
    """Write the rows of ``names`` into one new compacted file that replaces them."""
    found = ds.dataset([str(day_dir / name) for name in names], format="parquet")
    fragments = list(found.get_fragments())
    schema = unify_schemas([f.physical_schema for f in fragments])
    replacing = schema.with_metadata({**METADATA, REPLACES_KEY: "\n".join(names).encode()})
    target = day_dir / f"{COMPACTED_PREFIX}{new_id()}{PART_SUFFIX}"

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, replacing, compression="zstd") as writer:
            # Arrow reads (on its threads, in order) and casts each file to the
            # unified schema, a row group's worth of files at a time.
            for chunk in _row_group_chunks(fragments):
                part = ds.FileSystemDataset(chunk, schema, found.format, found.filesystem)
                table = part.to_table().replace_schema_metadata(replacing.metadata)
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    write_atomically(target, write)
    return target


def _row_group_chunks(fragments: list[ds.Fragment]) -> Iterator[list[ds.Fragment]]:
    chunk: list[ds.Fragment] = []
    rows = 0
    for fragment in fragments:
        chunk.append(fragment)
        rows += fragment.metadata.num_rows
        if rows >= ROW_GROUP_ROWS:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


def _vacuum(day_dir: Path, keep_seconds: float, dry_run: bool) -> int:
    """Delete the files replaced by compacted files at least ``keep_seconds`` old."""
    present = {e.name: e for e in os.scandir(day_dir) if is_part_file(e.name)}
    replaces: dict[str, set[str]] = {}
    for name in present:
        if name.startswith(COMPACTED_PREFIX):
            with contextlib.suppress(FileNotFoundError):
                replaces[name] = set(replaced_by(day_dir / name))
    now = time.time()
    doomed: set[str] = set()
    for name, replaced in replaces.items():
        if now - present[name].stat().st_mtime >= keep_seconds:
            doomed |= replaced & present.keys()
    if dry_run:
        return len(doomed)
    remaining = set(present)
    deleted = 0
    # Plain parts first; then a replaced compacted file once none of its own files remain.
    order = sorted(doomed, key=lambda n: n.startswith(COMPACTED_PREFIX))
    for name in order:
        if replaces.get(name, set()) & remaining:
            continue
        with contextlib.suppress(FileNotFoundError):
            (day_dir / name).unlink()
        remaining.discard(name)
        deleted += 1
    if deleted:
        fsync_path(day_dir)
    return deleted


def _remove_temporaries(day_dir: Path) -> None:
    # Hidden ``.part-*.tmp`` files in a closed day belong to writers that crashed.
    for entry in os.scandir(day_dir):
        if entry.name.startswith(".part-") and entry.name.endswith(".tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


@contextlib.contextmanager
def _day_lock(day_dir: Path) -> Iterator[bool]:
    fd = os.open(day_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
