"""Compaction of the prediction log: fewer files, the same rows, whoever reads meanwhile."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from stead.core.errors import UsageError
from stead.predictions.compaction import LOCK_FILE, compact_log
from stead.predictions.layout import COMPACTED_PREFIX, decode, live_part_files
from stead.predictions.lookup import find_predictions
from stead.predictions.reader import read_predictions
from stead.predictions.record import PredictionRecord
from stead.predictions.tail import follow
from stead.predictions.writer import PredictionLog

from .records import BASE_TIME, make_record

DAY_DIR = Path("endpoint=credit") / "date=2026-03-01"
LATER = BASE_TIME + timedelta(days=2)  # the day of BASE_TIME is closed by then
KEEP = timedelta(hours=1)
NOW = timedelta(0)


def write_parts(directory: Path, batches: list[list[PredictionRecord]]) -> None:
    """One part file per batch, as a server's flushes make them."""
    with PredictionLog(directory, mode="sync") as plog:
        for batch in batches:
            plog.log_many(batch)


def small_parts(start: int, files: int, per_file: int = 5) -> list[list[PredictionRecord]]:
    return [[make_record(start + f * per_file + k) for k in range(per_file)] for f in range(files)]


def everything(directory: Path) -> pd.DataFrame:
    return read_predictions(directory, "credit").sort_values("request_id", ignore_index=True)


def on_disk(directory: Path) -> list[str]:
    return sorted(p.name for p in (directory / DAY_DIR).glob("part-*.parquet"))


def test_a_closed_day_becomes_one_file_with_the_same_rows(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=12))
    today = BASE_TIME + timedelta(days=2)
    write_parts(
        tmp_path, [[make_record(900, timestamp=today)], [make_record(901, timestamp=today)]]
    )
    before = everything(tmp_path)

    report = compact_log(tmp_path, now=LATER)

    [day] = report.changed
    assert (day.day.isoformat(), day.files_before, day.files_after, day.rows) == (
        "2026-03-01",
        12,
        1,
        60,
    )
    [compacted] = live_part_files(tmp_path / DAY_DIR)
    assert compacted.startswith(COMPACTED_PREFIX)
    pd.testing.assert_frame_equal(everything(tmp_path), before)
    # The open day (the day of ``now``) is left to its writers.
    assert len(live_part_files(tmp_path / "endpoint=credit" / "date=2026-03-03")) == 2


def test_merged_files_stay_until_keep_replaced_has_passed_then_go(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=6))
    before = everything(tmp_path)

    compact_log(tmp_path, now=LATER, keep_replaced=KEEP)
    assert len(on_disk(tmp_path)) == 7  # a reader that listed the originals still has them
    pd.testing.assert_frame_equal(everything(tmp_path), before)  # and nobody reads both

    second = compact_log(tmp_path, now=LATER, keep_replaced=NOW)
    assert [d.vacuumed for d in second.days] == [6]
    assert len(on_disk(tmp_path)) == 1
    pd.testing.assert_frame_equal(everything(tmp_path), before)


def test_a_late_part_is_read_and_merged_by_the_next_run(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=4))
    compact_log(tmp_path, now=LATER, keep_replaced=KEEP)
    write_parts(tmp_path, [[make_record(500)]])  # a retry landing after the compaction
    assert len(everything(tmp_path)) == 21

    compact_log(tmp_path, now=LATER, keep_replaced=KEEP)
    # The second compacted file replaces the first and the late part; the first's own
    # originals are still there too, and every one of them is left out by readers.
    assert len(on_disk(tmp_path)) == 7
    assert len(everything(tmp_path)) == 21

    last = compact_log(tmp_path, now=LATER, keep_replaced=NOW)
    assert [d.vacuumed for d in last.days] == [6]
    [survivor] = on_disk(tmp_path)
    assert survivor.startswith(COMPACTED_PREFIX)
    assert sorted(everything(tmp_path)["request_id"]) == sorted(
        [f"req-{i:06d}" for i in range(20)] + ["req-000500"]
    )


def test_files_of_model_versions_with_other_inputs_are_unified(tmp_path: Path) -> None:
    write_parts(
        tmp_path,
        [
            [make_record(0, inputs={"age": 41, "zip": 75001})],
            [make_record(1, inputs={"age": 42.5, "zip": "SW1A 1AA", "segment": "retail"})],
            [make_record(2, model_version="credit@2", outputs={"value": 3.5})],
        ],
    )
    before = everything(tmp_path)

    compact_log(tmp_path, now=LATER)

    after = everything(tmp_path)
    pd.testing.assert_frame_equal(after, before)
    assert list(after["inputs.zip"][:2]) == ["75001", "SW1A 1AA"]


def test_ids_are_still_found_after_compaction(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=5))
    # The first lookup of a closed day indexes its files; compaction replaces them.
    assert find_predictions(tmp_path, ["req-000003"])["request_id"].to_pylist() == ["req-000003"]
    compact_log(tmp_path, now=LATER, keep_replaced=NOW)
    found = find_predictions(tmp_path, ["req-000003", "req-000024"])
    assert sorted(found["request_id"].to_pylist()) == ["req-000003", "req-000024"]


def test_following_the_log_does_not_repeat_compacted_rows(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=3))
    looks = iter([False, True])
    frames = follow(tmp_path, "credit", n=100, poll=0.01, should_stop=lambda: next(looks))
    assert len(next(frames)) == 15
    compact_log(tmp_path, now=LATER)
    assert list(frames) == []  # one more look found nothing new


def test_a_day_compacted_by_another_process_is_skipped_and_reported(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=3))
    fd = os.open(tmp_path / DAY_DIR / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        [day] = compact_log(tmp_path, now=LATER).days
    finally:
        os.close(fd)
    assert day.busy
    assert len(on_disk(tmp_path)) == 3


def test_a_dry_run_counts_and_changes_nothing(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=4))
    names = on_disk(tmp_path)
    [day] = compact_log(tmp_path, now=LATER, dry_run=True).days
    assert (day.files_before, day.files_after, day.rows) == (4, 1, 20)
    assert on_disk(tmp_path) == names
    assert not (tmp_path / DAY_DIR / LOCK_FILE).exists()  # not even a lock file


def test_target_rows_bounds_each_compacted_file(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=10))
    [day] = compact_log(tmp_path, now=LATER, target_rows=20, keep_replaced=NOW).days
    assert (day.files_before, day.files_after) == (10, 3)  # 4 + 4 + 2 parts of 5 rows
    assert len(everything(tmp_path)) == 50


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="target_rows = 0"):
        compact_log(tmp_path, target_rows=0)
    with pytest.raises(UsageError, match="must not be negative"):
        compact_log(tmp_path, settle=timedelta(hours=-1))
    with pytest.raises(UsageError, match="endpoint name"):
        compact_log(tmp_path, "../etc")


COMPACT_CHILD = """
import sys
from datetime import datetime, timedelta
from stead.predictions.compaction import compact_log
compact_log(sys.argv[1], now=datetime.fromisoformat(sys.argv[2]), target_rows=1_000,
            keep_replaced=timedelta(0))
"""


@pytest.mark.slow
def test_killing_a_compaction_at_any_moment_loses_and_repeats_nothing(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=300, per_file=20))
    before = everything(tmp_path)
    script = tmp_path / "compact_child.py"
    script.write_text(textwrap.dedent(COMPACT_CHILD))
    for delay in (0.3, 0.6, 0.9, 1.2):
        child = subprocess.Popen([sys.executable, str(script), str(tmp_path), LATER.isoformat()])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        pd.testing.assert_frame_equal(everything(tmp_path), before)
    compact_log(tmp_path, now=LATER, target_rows=1_000, keep_replaced=NOW)
    pd.testing.assert_frame_equal(everything(tmp_path), before)
    assert len(on_disk(tmp_path)) == 6
    assert not [p for p in (tmp_path / DAY_DIR).iterdir() if p.name.endswith(".tmp")]


def test_a_damaged_part_is_reported_left_in_place_and_the_rest_merged(tmp_path: Path) -> None:
    write_parts(tmp_path, small_parts(0, files=3))
    damaged = tmp_path / DAY_DIR / "part-0damaged.parquet"
    damaged.write_bytes(b"not parquet")

    [day] = compact_log(tmp_path, now=LATER, keep_replaced=NOW).days

    assert day.damaged == ("part-0damaged.parquet",)
    assert (day.files_before, day.files_after, day.rows) == (4, 2, 15)
    assert damaged.read_bytes() == b"not parquet"
    damaged.unlink()  # what the report tells the operator to do
    assert len(everything(tmp_path)) == 15


def test_out_of_range_flags_survive_compaction_beside_files_without_them(
    tmp_path: Path,
) -> None:
    # Files of a server from before the flags existed have no out_of_range column.
    plain = small_parts(0, files=2)
    flagged = [
        [make_record(20, out_of_range=("income",)), make_record(21)],
        [make_record(22, out_of_range=("age", "income"))],
    ]
    write_parts(tmp_path, [*plain, *flagged])
    before = everything(tmp_path)

    compact_log(tmp_path, now=LATER)

    after = everything(tmp_path)
    flags = {
        r: list(v)
        for r, v in zip(after["request_id"], after["out_of_range"], strict=True)
        if v is not None
    }
    assert flags == {"req-000020": ["income"], "req-000022": ["age", "income"]}
    assert after["out_of_range"].isna().sum() == len(before) - 2
    [record] = decode(find_predictions(tmp_path, ["req-000022"]))
    assert record.out_of_range == ("age", "income")
