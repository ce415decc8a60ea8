"""Reading user files and frames into a clean DataFrame, or a clear DataError."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stead.core.errors import DataError

SUPPORTED = (".csv", ".parquet", ".pq")


def read_table(path: str | os.PathLike[str], *, strict: bool = True) -> pd.DataFrame:
    """Read a CSV or Parquet file, refusing what cannot become a snapshot.

    With ``strict=False`` (for validation) a column that mixes types is returned as it
    is, so that the contract check can report its bad rows.

    Raises:
        DataError: the file is missing, unreadable, empty, has duplicate column names
            or a column that mixes numbers and text.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DataError(f"{path} has suffix {suffix or '(none)'!r}; stead reads .csv and .parquet")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)")
    frame = _read_parquet(path) if suffix in (".parquet", ".pq") else _read_csv(path)
    return check_frame(frame, where=str(path), strict=strict)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV"
        ) from exc
    except (OSError, csv.Error) as exc:
        raise DataError(f"{path} cannot be read as CSV: {exc}") from exc
    if not header:
        raise DataError(f"{path} has no header row")
    _refuse_duplicates(header, where=str(path))
    try:
        frame = pd.read_csv(path, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} has no data") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"{path} cannot be parsed as CSV: {exc}") from exc
    return parse_timestamps(frame)


_ISO_TIME = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"


def parse_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn text columns whose every value is an ISO 8601 time into UTC timestamps.

    CSV has no time type; without this a timestamp written by pandas would come back as
    text, and the same data would get another schema from CSV than from Parquet.
    """
    for name in frame.columns:
        column = frame[name]
        if not pd.api.types.is_string_dtype(column.dtype):
            continue
        values = column.dropna()
        if values.empty or not values.head(20).str.match(_ISO_TIME).all():
            continue
        if not values.str.match(_ISO_TIME).all():
            continue
        try:
            frame[name] = pd.to_datetime(column, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            continue
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise DataError(f"{path} is not a readable Parquet file: {exc}") from exc
    _refuse_duplicates(names, where=str(path))
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise DataError(f"{path} is not a readable Parquet file: {exc}") from exc


def _refuse_duplicates(names: list[str], *, where: str) -> None:
    dupes = [name for name, n in Counter(names).items() if n > 1]
    if dupes:
        listed = ", ".join(repr(d) for d in dupes)
        raise DataError(
            f"{where} has duplicate column names: {listed}; rename them so each is unique"
        )


def check_frame(
    frame: pd.DataFrame, *, where: str = "the DataFrame", strict: bool = True
) -> pd.DataFrame:
    """Refuse frames that cannot be snapshotted; return a copy with a clean RangeIndex."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{where} is a {type(frame).__name__}, not a pandas DataFrame")
    if frame.shape[1] == 0:
        raise DataError(f"{where} has no columns")
    if len(frame) == 0:
        raise DataError(f"{where} has columns but no rows")
    names = [str(c) for c in frame.columns]
    _refuse_duplicates(names, where=where)
    frame = frame.reset_index(drop=True)
    frame.columns = pd.Index(names)
    for name in names if strict else []:
        _refuse_mixed(frame[name], name=name, where=where)
    return frame


def _refuse_mixed(column: pd.Series, *, name: str, where: str) -> None:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return
    if pd.api.types.is_bool_dtype(column):
        return
    values = column.dropna()
    if values.empty:
        return
    if column.dtype == object:
        types = values.map(lambda v: type(v).__name__)
        kinds = types.value_counts()
        if len(kinds) > 1:
            names = ", ".join(f"{t} ({n})" for t, n in kinds.items())
            rows = _first_rows(~types.eq(kinds.index[0]), values.index)
            raise DataError(
                f"{where}: column {name!r} mixes types: {names}; first rows of the rarer "
                f"types: {rows}; convert the column to one type"
            )
        if kinds.index[0] != "str":
            raise DataError(
                f"{where}: column {name!r} holds {kinds.index[0]} values, which stead "
                "cannot store; use numbers, text, booleans or timestamps"
            )
    # Text that is mostly numbers is a numeric column with stray text in it.
    numbers = pd.to_numeric(values, errors="coerce")
    parsed = numbers.notna()
    if parsed.mean() >= 0.5 and not parsed.all():
        bad = values[~parsed]
        examples = ", ".join(repr(v) for v in bad.head(3))
        raise DataError(
            f"{where}: column {name!r} mixes numbers and text: {int((~parsed).sum())} of "
            f"{len(values)} values are not numbers (rows {_first_rows(~parsed, values.index)}: "
            f"{examples}); fix or blank those values"
        )


def _first_rows(mask: pd.Series | np.ndarray, index: pd.Index, limit: int = 5) -> str:
    positions = np.flatnonzero(np.asarray(mask))[:limit]
    return ", ".join(str(index[p]) for p in positions)
