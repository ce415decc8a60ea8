"""Finding raw personal values anywhere a workspace keeps data: files (raw bytes, and
Parquet and zip members decoded), database rows, command output."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa


class Values:
    """The raw values to look for, found by a regex of their shape and then checked
    against the set itself (one regex of thousands of alternatives would be slow)."""

    def __init__(self, values: Iterable[str], shape: str) -> None:
        self.values = frozenset(values)
        self._shape = re.compile(shape)

    def findall(self, text: str) -> set[str]:
        return {m for m in self._shape.findall(text) if m in self.values}


def scan_files(root: Path, pattern: Values, *, skip: Iterable[Path] = ()) -> dict[str, list[str]]:
    """Every file under ``root`` holding a value: ``{relative path: values found}``."""
    skipped = {p.resolve() for p in skip}
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() in skipped:
            continue
        found: set[str] = set()
        for text in _texts(path.read_bytes()):
            found.update(pattern.findall(text))
        if found:
            hits[str(path.relative_to(root))] = sorted(found)
    return hits


def _texts(data: bytes) -> Iterator[str]:
    """The bytes as text, plus the decoded content of Parquet and zip files."""
    yield data.decode("latin-1")
    yield data.decode("utf-8", errors="ignore")
    if data[:4] == b"PAR1":
        table = pq.read_table(io.BytesIO(data))
        yield json.dumps(table.to_pylist(), default=str)
        yield str(table.schema.metadata)
    elif data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield from _texts(archive.read(name))


def scan_database(url: str, pattern: Values) -> dict[str, list[str]]:
    """Every table with a row holding a value: ``{table: values found}``."""
    engine = sa.create_engine(url)
    hits: dict[str, list[str]] = {}
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                found: set[str] = set()
                for row in connection.execute(sa.select(table)):
                    found.update(pattern.findall(json.dumps(list(row), default=str)))
                    found.update(pattern.findall(repr(tuple(row))))
                if found:
                    hits[table.name] = sorted(found)
    finally:
        engine.dispose()
    return hits
