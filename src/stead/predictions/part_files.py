"""Records to Parquet part files, one bad record never costing the others.

Shared by the live writer (:mod:`stead.predictions.writer`) and the journal replay
(:mod:`stead.predictions.journal`): both group records by partition, encode each group
(:func:`encode_isolating` retries a failing chunk record by record and hands every
record that still fails to the quarantine) and write each table durably (:class:`PartWriter`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stead.core.durable import make_dirs, write_atomically
from stead.core.ids import new_id
from stead.data.sanitize import Sanitizer
from stead.predictions.layout import PART_PREFIX, PART_SUFFIX, combine, encode, partition_dir
from stead.predictions.record import PredictionRecord

PartitionKey = tuple[str, date]
Reject = Callable[[PredictionRecord, str], None]


def by_partition(records: Iterable[PredictionRecord]) -> dict[PartitionKey, list[PredictionRecord]]:
    """Records grouped by (endpoint, UTC day), in arrival order within each group."""
    groups: dict[PartitionKey, list[PredictionRecord]] = {}
    for record in records:
        key = (record.endpoint, record.timestamp.date())
        group = groups.get(key)
        if group is None:
            groups[key] = [record]
        else:
            group.append(record)
    return groups


def encode_isolating(
    records: list[PredictionRecord], sanitizer: Sanitizer, reject: Reject
) -> pa.Table | None:
    """``records`` as one table; a record that cannot be encoded goes to ``reject``.

    The whole chunk is tried first (the fast path); only when it fails is each record
    encoded alone, so the cost of a bad record falls on its own chunk only.

    Returns:
        The table of the records that encode, or ``None`` when none does.
    """
    try:
        return encode(records, sanitizer)
    except Exception:  # which record, and why, is found below
        pass
    tables = []
    for record in records:
        try:
            tables.append(encode([record], sanitizer))
        except Exception as exc:
            reject(record, f"could not encode: {exc!r}")
    return combine(tables) if tables else None


class PartWriter:
    """Writes tables into partitions, each file fsync'd and renamed into place."""

    def __init__(self, directory: Path, *, compression: str) -> None:
        self.directory = directory
        self._compression = compression
        self._known_dirs: set[Path] = set()

    def path(self, key: PartitionKey, name: str | None = None) -> Path:
        """Where a part file of ``key`` goes (a new random name unless ``name``)."""
        directory = partition_dir(self.directory, *key)
        return directory / (name or f"{PART_PREFIX}{new_id()}{PART_SUFFIX}")

    def write(self, key: PartitionKey, table: pa.Table, name: str | None = None) -> None:
        """Write ``table`` as one part file of ``key``.

        Raises:
            OSError: the file could not be written (nothing is left behind).
        """
        path = self.path(key, name)
        try:
            self._write_into(path, table)
        except FileNotFoundError:
            # The directory was removed under us (retention): make it again, once.
            self._known_dirs.discard(path.parent)
            self._write_into(path, table)

    def _write_into(self, path: Path, table: pa.Table) -> None:
        if path.parent not in self._known_dirs:
            make_dirs(path.parent)
            self._known_dirs.add(path.parent)
        write_atomically(
            path, lambda tmp: pq.write_table(table, tmp, compression=self._compression)
        )
