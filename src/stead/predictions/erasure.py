"""Erasure from the prediction log: one subject's values removed from every part file.

The log stores a PII input as its keyed hash (``[serving.log] pii = "hash"``), which
still singles the person out; erasure finds the cells holding a subject's value (its
hash, or the raw text for an input that was not marked PII) and rewrites each file
that has one with those cells null. Every part file is rewritten, also those a
compacted file replaces but that wait to be deleted: they hold the same rows.

Safe beside the log's other users: a file is replaced with one atomic rename (a reader
sees the old file or the new one), and each day is rewritten under the compaction lock
of that day (see :mod:`stead.predictions.compaction`), so a compaction never merges a
file's old contents after it was erased. Part files a writer adds later hold what was
predicted later; erasure covers what was logged when it ran.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stead.core.durable import write_atomically
from stead.predictions.compaction import LOCK_FILE
from stead.predictions.layout import INPUTS, is_part_file, logged_days, logged_endpoints


@dataclass(frozen=True)
class LogErasure:
    """What erasure changed in the log: cells per endpoint, files rewritten."""

    cells: dict[str, int] = field(default_factory=dict)
    files: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"cells": dict(self.cells), "files": self.files}


def erase_from_log(
    directory: Path, *, column: str, forms: set[str], entity_key: bool = False
) -> LogErasure:
    """Set every ``inputs.<column>`` cell (name case-insensitive) equal to one of
    ``forms`` to null, in every part file of every endpoint and day.

    Args:
        directory: the log root (``ws.predictions.directory``).
        column: the input field.
        forms: the texts the value may be stored as (its keyed hash, its raw text).
        entity_key: the column is the entity key, so ``entity_key`` cells are erased too.
    """
    cells: dict[str, int] = {}
    files = 0
    wanted = column.casefold()
    targets = pa.array(sorted(forms), pa.string())
    for endpoint in logged_endpoints(directory):
        for _, day_dir in logged_days(directory, endpoint):
            with _day_lock(day_dir):
                for name in sorted(n for n in os.listdir(day_dir) if is_part_file(n)):
                    erased = _erase_file(day_dir / name, wanted, targets, entity_key)
                    if erased:
                        cells[endpoint] = cells.get(endpoint, 0) + erased
                        files += 1
    return LogErasure(cells=cells, files=files)


def _erase_file(path: Path, wanted: str, targets: pa.Array, entity_key: bool) -> int:
    names = pq.read_schema(path).names
    chosen = [n for n in names if n.startswith(INPUTS) and n[len(INPUTS) :].casefold() == wanted]
    if entity_key and "entity_key" in names:
        chosen.append("entity_key")
    if not chosen:
        return 0
    table = pq.ParquetFile(path).read()
    erased = 0
    for name in chosen:
        values = table.column(name)
        text = values if pa.types.is_string(values.type) else values.cast(pa.string())
        hit = pc.fill_null(pc.is_in(text, value_set=targets), False)
        count = pc.sum(hit).as_py() or 0
        if count:
            cleared = pc.if_else(hit, pa.scalar(None, values.type), values)
            table = table.set_column(table.schema.get_field_index(name), name, cleared)
            erased += count
    if erased:
        write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return erased


@contextlib.contextmanager
def _day_lock(day_dir: Path) -> Iterator[None]:
    """The day's compaction lock, waited for (compaction itself skips a busy day)."""
    fd = os.open(day_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
