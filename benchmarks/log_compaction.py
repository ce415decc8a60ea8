"""Prediction-log compaction: reading a day of small part files, before and after.

A day of ``--files`` part files of ``--rows`` records each (the records of
``benchmarks/prediction_log.py``: 20 inputs, a class prediction, versions; written with
the log's own encoding, as the writer's flushes make them). Measured in one run:

- reading the whole day (``read_prediction_table``), and only ``latency_ms`` (what a
  latency monitor reads), before compaction: median of ``--repeat``;
- ``compact_log`` itself (``keep_replaced=0``: the merged files are deleted in the same
  run), once;
- the same two reads after compaction, median of ``--repeat``.

At the default 1 s flush interval a worker writes 86,400 files a day; the default
5,000 files keep the run short, and the per-file cost scales.

    python benchmarks/log_compaction.py [--files 5000] [--rows 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prediction_log import SANITIZER, make_records

from stead.core.ids import new_id
from stead.predictions.compaction import compact_log
from stead.predictions.layout import PART_PREFIX, PART_SUFFIX, encode, partition_dir
from stead.predictions.reader import read_prediction_table

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def write_day(directory: Path, files: int, rows: int) -> None:
    records = make_records(files * rows)
    day_dir = partition_dir(directory, "credit", DAY.date())
    day_dir.mkdir(parents=True)
    for f in range(files):
        table = encode(records[f * rows : (f + 1) * rows], SANITIZER)
        pq.write_table(table, day_dir / f"{PART_PREFIX}{new_id()}{PART_SUFFIX}", compression="zstd")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stead-bench-compaction-"))
    try:
        directory = work / "predictions"
        write_day(directory, args.files, args.rows)
        until = DAY + timedelta(days=1)

        def read_all() -> int:
            return read_prediction_table(directory, "credit", DAY, until).num_rows

        def read_latency() -> int:
            table = read_prediction_table(directory, "credit", DAY, until, columns=["latency_ms"])
            return table.num_rows

        all_before, n_before = timed(read_all, args.repeat)
        col_before, _ = timed(read_latency, args.repeat)
        started = time.perf_counter()
        report = compact_log(directory, now=until + timedelta(days=1), keep_replaced=timedelta(0))
        compaction = time.perf_counter() - started
        all_after, n_after = timed(read_all, args.repeat)
        col_after, _ = timed(read_latency, args.repeat)
        assert n_before == n_after == args.files * args.rows, (n_before, n_after)
        [day] = report.days
        files_left = len(list(partition_dir(directory, "credit", DAY.date()).glob("part-*")))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = args.files * args.rows
    print(
        f"prediction-log compaction, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; medians of {args.repeat}"
    )
    print(f"  a day of {args.files:,} part files x {args.rows} records = {rows:,} records")
    print(
        f"  compaction: {compaction:.2f} s ({args.files / compaction:,.0f} files/s, "
        f"{rows / compaction:,.0f} records/s); {day.files_before:,} -> {files_left} file(s), "
        f"{day.bytes_before / 1e6:.1f} MB -> {day.bytes_after / 1e6:.1f} MB"
    )
    print("")
    print("| read of the day | before | after | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| every column | {all_before:.3f} s | {all_after:.3f} s | {all_before / all_after:.0f}x |"
    )
    print(
        f"| `latency_ms` only | {col_before:.3f} s | {col_after:.3f} s | "
        f"{col_before / col_after:.0f}x |"
    )


if __name__ == "__main__":
    main()
