"""The crash journal: what a dead writer left is converted once, torn lines are kept
apart, a live writer's journal is left alone, PII never rests in it raw, and the
temporary files of a crash are cleaned at start."""

from __future__ import annotations

import base64
import json
import os
import pickle
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from stead.core.artifacts import ArtifactStore
from stead.data.sanitize import Sanitizer
from stead.predictions.journal import JOURNAL_DIR, from_line, to_line, unit_file_name
from stead.predictions.layout import encode
from stead.predictions.part_files import PartWriter
from stead.predictions.reader import read_prediction_records, read_predictions
from stead.predictions.writer import PredictionLog

from .records import BASE_TIME, make_record


def dead_writer_segment(directory: Path, writer: str, unit: int, lines: bytes) -> Path:
    """A segment as a writer killed mid-unit leaves it (its lock file gone with it)."""
    journal = directory / JOURNAL_DIR
    journal.mkdir(parents=True, exist_ok=True)
    path = journal / f"{writer}-{unit:08d}-000000.jsonl"
    path.write_bytes(lines)
    return path


def test_a_dead_writers_journal_is_converted_at_the_next_start(tmp_path: Path) -> None:
    records = [make_record(i) for i in range(5)]
    segment = dead_writer_segment(tmp_path, "w1", 0, b"".join(map(to_line, records)))

    stats = PredictionLog(tmp_path).close()

    assert stats.replayed == 5
    assert read_prediction_records(tmp_path, "credit") == records
    assert not segment.exists()


def test_a_unit_already_in_parquet_is_not_written_twice(tmp_path: Path) -> None:
    # Killed after the Parquet file of one partition was renamed into place, before
    # the segment was deleted: that partition is skipped, the other one written.
    credit = [make_record(i) for i in range(3)]
    fraud = [make_record(i, endpoint="fraud") for i in range(3, 5)]
    dead_writer_segment(tmp_path, "w1", 7, b"".join(map(to_line, credit + fraud)))
    PartWriter(tmp_path, compression="zstd").write(
        ("credit", credit[0].day), encode(credit), unit_file_name("w1", 7)
    )

    PredictionLog(tmp_path).close()

    assert list(read_predictions(tmp_path, "credit")["request_id"]) == [
        r.request_id for r in credit
    ]
    assert list(read_predictions(tmp_path, "fraud")["request_id"]) == ["req-000003", "req-000004"]


def test_a_torn_journal_line_is_quarantined_and_the_rest_converted(tmp_path: Path) -> None:
    whole = b"".join(to_line(make_record(i)) for i in range(3))
    torn = to_line(make_record(3))[:25]
    dead_writer_segment(tmp_path, "w1", 0, whole + torn)

    stats = PredictionLog(tmp_path).close()

    assert len(read_predictions(tmp_path, "credit")) == 3
    assert stats.quarantined == 1
    [kept] = (tmp_path / "quarantine" / "unreadable.jsonl").read_text().splitlines()
    entry = json.loads(kept)
    assert entry["reason"].startswith("unreadable journal line")
    assert entry["line"] == torn.decode()


def test_a_journal_line_that_names_a_class_is_refused_not_run(tmp_path: Path) -> None:
    import base64
    import pickle

    evil = base64.b64encode(pickle.dumps([os.system, "true"])) + b"\n"
    with pytest.raises(ValueError, match=r"posix\.system is not allowed"):
        from_line(evil)
    # NumPy numbers and times are stored as builtins: nothing to refuse on the way back.
    record = make_record(0, inputs={"n": np.float64(0.5), "when": BASE_TIME})
    assert from_line(to_line(record)).inputs == {"n": 0.5, "when": BASE_TIME.isoformat()}


def test_a_live_writers_journal_is_left_alone(tmp_path: Path) -> None:
    first = PredictionLog(tmp_path, flush_interval=3600)
    first.log(make_record(0))
    second = PredictionLog(tmp_path, flush_interval=3600)
    assert second.flush()
    assert second.stats().replayed == 0
    assert first.close().written == 1
    second.close()
    assert list(read_predictions(tmp_path, "credit")["request_id"]) == ["req-000000"]


def test_the_journal_holds_pii_hashed_never_raw(tmp_path: Path) -> None:
    sanitizer = Sanitizer(["email"], mode="hash", key=b"k" * 32)
    plog = PredictionLog(tmp_path, flush_interval=3600, sanitizer=sanitizer)
    plog.log(make_record(0))
    raw = b"".join(p.read_bytes() for p in (tmp_path / JOURNAL_DIR).glob("*.jsonl"))
    [journaled] = [from_line(line) for line in raw.splitlines()]
    assert journaled.request_id == "req-000000"
    assert journaled.inputs["email"] == sanitizer.hash_value("user0@example.com")
    assert b"user0@example.com" not in raw
    plog.close()
    frame = read_predictions(tmp_path, "credit")
    assert list(frame["inputs.email"]) == [sanitizer.hash_value("user0@example.com")]


def test_temporary_files_of_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    day = tmp_path / "endpoint=credit" / "date=2026-03-01"
    day.mkdir(parents=True)
    stale, fresh = day / ".part-old.parquet.tmp", day / ".part-now.parquet.tmp"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y")  # another process may be writing it right now
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))

    PredictionLog(tmp_path).close()

    assert not stale.exists()
    assert fresh.exists()


def test_the_artifact_store_removes_what_a_crashed_write_left(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    digest = store.put_bytes(b"kept")
    leftover = tmp_path / "artifacts" / "tmp" / "0123.part"
    leftover.write_bytes(b"x" * 10_000)
    an_hour_ago = time.time() - 3600
    os.utime(leftover, (an_hour_ago, an_hour_ago))

    removed = ArtifactStore(str(tmp_path / "artifacts")).clean_temporary()

    assert removed == 1
    assert not leftover.exists()
    assert store.get_bytes(digest) == b"kept"


def test_a_unit_file_is_a_valid_part_file(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as plog:
        plog.log_many(make_record(i) for i in range(3))
    files = sorted(tmp_path.rglob("part-*.parquet"))
    assert len(files) == 1 and files[0].name.startswith("part-j")
    assert pq.read_metadata(files[0]).num_rows == 3


def test_a_failed_parquet_write_is_retried_from_the_journal(tmp_path: Path) -> None:
    blocker = tmp_path / "endpoint=credit"
    blocker.write_text("in the way of the partition directory")
    plog = PredictionLog(tmp_path, batch_size=1, flush_interval=0.02)
    plog.log_many(make_record(i) for i in range(5))
    deadline = time.monotonic() + 60
    while plog.stats().write_errors < 2:
        assert time.monotonic() < deadline, "the writer never failed"
        time.sleep(0.01)
    # The records wait in the journal, not lost, while the disk refuses them.
    assert list((tmp_path / JOURNAL_DIR).glob("*.jsonl"))
    blocker.unlink()
    stats = plog.close()
    assert (stats.written, stats.failed, stats.pending) == (5, 0, 0)
    assert len(read_predictions(tmp_path, "credit")) == 5
    assert not list((tmp_path / JOURNAL_DIR).glob("*.jsonl"))


def test_out_of_range_flags_cross_the_journal_and_old_lines_still_read() -> None:
    flagged = make_record(1, out_of_range=("income",))
    assert from_line(to_line(flagged)).out_of_range == ("income",)
    # A line written before the flags existed: the 14 fields alone.
    row = pickle.loads(base64.b64decode(to_line(make_record(2))))
    old = base64.b64encode(pickle.dumps(row[:14])) + b"\n"
    assert from_line(old).out_of_range == () and from_line(old).request_id == "req-000002"
