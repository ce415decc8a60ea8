"""The latest predictions of an endpoint, and new ones as they are written.

``tail`` reads only as many days as it needs, newest first, counting rows from the
Parquet footers before reading any data. ``follow`` polls the endpoint's newest day
directories for part files it has not seen (the writer renames finished files into
place, so a listed file is complete) and yields their rows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from stead.core.errors import UsageError
from stead.predictions.layout import (
    COMPACTED_PREFIX,
    live_part_files,
    logged_days,
    unify_schemas,
)
from stead.predictions.reader import prediction_files
from stead.predictions.record import check_endpoint


def tail(directory: str | os.PathLike[str], endpoint: str, n: int = 20) -> pd.DataFrame:
    """The ``n`` latest predictions of ``endpoint``, oldest first (with ``endpoint``).

    Raises:
        UsageError: a bad endpoint name, or ``n`` below 1.
    """
    return _tail(_listing(Path(directory), check_endpoint(endpoint)), endpoint, n)


def follow(
    directory: str | os.PathLike[str],
    endpoint: str,
    *,
    n: int = 20,
    poll: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[pd.DataFrame]:
    """Yield the ``n`` latest predictions, then the rows of each batch of new part files.

    The first frame and the later ones come from one listing of the directory, so no
    prediction is shown twice or skipped between them.

    Args:
        poll: seconds between looks at the directory.
        should_stop: checked before each look; the loop ends when it returns true.
    """
    root = Path(directory)
    listing = _listing(root, check_endpoint(endpoint))
    seen = {f.name for files in listing.values() for f in files}
    yield _tail(listing, endpoint, n)
    while not should_stop():
        time.sleep(poll)
        # New files land in today's directory (or tomorrow's, after midnight).
        since = datetime.now(UTC) - timedelta(days=1)
        # A compacted file only holds rows of files already seen (it appears in closed
        # days, after their last part file): showing it would repeat them.
        new = [
            f
            for f in prediction_files(root, endpoint, since)
            if f.name not in seen and not f.name.startswith(COMPACTED_PREFIX)
        ]
        if new:
            seen.update(f.name for f in new)
            yield _read(new, endpoint)


def _listing(root: Path, endpoint: str) -> dict[date, list[Path]]:
    return {
        day: [day_dir / name for name in live_part_files(day_dir)]
        for day, day_dir in logged_days(root, endpoint)
    }


def _tail(listing: dict[date, list[Path]], endpoint: str, n: int) -> pd.DataFrame:
    if n < 1:
        raise UsageError(f"-n {n}: ask for at least 1 prediction")
    chosen: list[Path] = []
    rows = 0
    # Newest day first, counting rows from the footers, until there are enough.
    for day in sorted(listing, reverse=True):
        files = listing[day]
        chosen = files + chosen
        rows += sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if rows >= n:
            break
    return _read(chosen, endpoint).tail(n).reset_index(drop=True)


def _read(files: list[Path], endpoint: str) -> pd.DataFrame:
    if not files:
        frame = pd.DataFrame({"request_id": pd.Series([], dtype="string")})
        frame["timestamp"] = pd.Series([], dtype="datetime64[us, UTC]")
        frame.insert(2, "endpoint", pd.Series([], dtype="string"))
        return frame
    found = ds.dataset([str(f) for f in files], format="parquet")
    fragments = list(found.get_fragments())
    schema = unify_schemas([f.physical_schema for f in fragments])
    table = ds.FileSystemDataset(fragments, schema, found.format, found.filesystem).to_table()
    table = table.sort_by("timestamp")
    table = table.add_column(
        min(2, table.num_columns), "endpoint", pa.repeat(pa.scalar(endpoint), table.num_rows)
    )
    return table.to_pandas()
