"""The prediction-log writer: what it keeps, when it writes, and what it does when it cannot."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from stead.core.errors import UsageError
from stead.predictions.reader import (
    read_prediction_records,
    read_prediction_table,
    read_predictions,
)
from stead.predictions.record import PredictionRecord
from stead.predictions.writer import PredictionLog, PredictionLogError

from .records import BASE_TIME, make_record


def part_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("part-*.parquet"))


def wait_until(condition: object, what: str) -> None:
    # A deadline only so that a broken writer fails the test instead of hanging it.
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def test_records_round_trip(tmp_path: Path) -> None:
    records = [
        make_record(0),
        make_record(
            1,
            role="canary",
            revision=None,
            feature_set_version=None,
            snapshot=None,
            inputs={"age": 41, "income": 2000.25, "city": None, "tags": ["a", "b"]},
            outputs={"prediction": "no", "probabilities": {0: 0.9, 1: 0.1}},
            error="model timed out after 50 ms",
            entity_key="customer-17",
            explanation={"age": 0.3, "income": -0.1},
        ),
        make_record(2, role="fallback", outputs={"value": 3.5}),
    ]
    with PredictionLog(tmp_path) as plog:
        plog.log(records[0])
        plog.log_many(records[1:])

    back = read_prediction_records(tmp_path, "credit")

    # Nulls read back as absent, lists as JSON text, dict keys as text.
    assert back[0] == records[0]
    assert back[1] == PredictionRecord(
        **{
            **_fields(records[1]),
            "inputs": {"age": 41, "income": 2000.25, "tags": '["a", "b"]'},
            "outputs": {"prediction": "no", "probabilities": {"0": 0.9, "1": 0.1}},
        }
    )
    assert back[2] == records[2]


def test_values_of_mixed_kinds_in_one_column_are_kept_as_text(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as plog:
        plog.log(make_record(0, inputs={"zip": 75001, "flag": True}))
        plog.log(make_record(1, inputs={"zip": "SW1A 1AA", "flag": 1}))
        plog.log(make_record(2, inputs={"zip": 2**70, "flag": None}))
    frame = read_predictions(tmp_path, "credit")
    assert list(frame["inputs.zip"]) == ["75001", "SW1A 1AA", str(2**70)]
    assert list(frame["inputs.flag"][:2]) == ["true", "1"]


def _fields(record: PredictionRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def test_files_are_partitioned_by_endpoint_and_utc_day(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=1))
    records = [
        make_record(0, endpoint="credit"),
        make_record(1, endpoint="fraud"),
        # 00:30 in Paris on the 2nd is still the 1st in UTC.
        make_record(2, endpoint="credit", timestamp=datetime(2026, 3, 2, 0, 30, tzinfo=paris)),
        make_record(3, endpoint="credit", timestamp=datetime(2026, 3, 2, 1, 30, tzinfo=paris)),
    ]
    with PredictionLog(tmp_path) as plog:
        plog.log_many(records)

    layout = sorted(str(p.parent.relative_to(tmp_path)) for p in part_files(tmp_path))
    assert layout == [
        "endpoint=credit/date=2026-03-01",
        "endpoint=credit/date=2026-03-02",
        "endpoint=fraud/date=2026-03-01",
    ]
    credit = read_predictions(tmp_path, "credit")
    assert list(credit["request_id"]) == ["req-000000", "req-000002", "req-000003"]
    assert set(credit["endpoint"]) == {"credit"}
    assert str(credit["timestamp"].dt.tz) == "UTC"
    assert list(read_predictions(tmp_path, "fraud")["request_id"]) == ["req-000001"]


def test_a_bad_record_is_refused_where_it_is_made() -> None:
    with pytest.raises(UsageError, match="no timezone"):
        make_record(0, timestamp=datetime(2026, 3, 1, 12))
    with pytest.raises(UsageError, match="role 'primary'"):
        make_record(0, role="primary")
    with pytest.raises(UsageError, match="endpoint name"):
        make_record(0, endpoint="../etc")


def test_async_close_writes_everything_logged_from_many_threads(tmp_path: Path) -> None:
    plog = PredictionLog(
        tmp_path, mode="async", batch_size=100, capacity=1_000, flush_interval=3600
    )

    def produce(start: int) -> None:
        for i in range(start, start + 1_000):
            plog.log(make_record(i))

    threads = [threading.Thread(target=produce, args=(k * 1_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = plog.close()

    assert (stats.logged, stats.written, stats.pending, stats.dropped) == (4_000, 4_000, 0, 0)
    ids = read_prediction_table(tmp_path, "credit", columns=["request_id"])["request_id"]
    assert sorted(ids.to_pylist()) == [f"req-{i:06d}" for i in range(4_000)]


def test_records_are_written_once_the_batch_is_full(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, batch_size=10, flush_interval=3600) as plog:
        plog.log_many(make_record(i) for i in range(10))
        wait_until(lambda: plog.stats().written == 10, "a full batch to be written")
        assert len(read_predictions(tmp_path, "credit")) == 10


def test_records_are_written_after_the_flush_interval(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, batch_size=10_000, flush_interval=0.05) as plog:
        plog.log(make_record(0))
        wait_until(lambda: plog.stats().written == 1, "the flush interval to pass")
        assert len(read_predictions(tmp_path, "credit")) == 1


def test_flush_writes_what_was_logged_now(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, flush_interval=3600) as plog:
        plog.log_many(make_record(i) for i in range(3))
        assert plog.flush()
        assert len(read_predictions(tmp_path, "credit")) == 3


def test_sync_log_returns_with_the_record_on_disk(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, mode="sync", flush_interval=3600) as plog:
        for i in range(5):
            plog.log(make_record(i))
            assert len(read_predictions(tmp_path, "credit")) == i + 1
        plog.log_many(make_record(i) for i in range(5, 105))
        assert len(read_predictions(tmp_path, "credit")) == 105
    # log_many is one commit: one more file for 100 records.
    assert len(part_files(tmp_path)) == 6


def test_concurrent_sync_callers_share_file_writes(tmp_path: Path) -> None:
    plog = PredictionLog(tmp_path, mode="sync")

    def produce(start: int) -> None:
        for i in range(start, start + 50):
            plog.log(make_record(i))

    threads = [threading.Thread(target=produce, args=(k * 50,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = plog.close()

    assert stats.written == 400
    assert len(read_predictions(tmp_path, "credit")) == 400
    assert stats.files == len(part_files(tmp_path)) < 400


def test_no_temporary_or_partial_file_is_left_for_readers(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, batch_size=50) as plog:
        plog.log_many(make_record(i) for i in range(500))
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert everything == [p for p in everything if p.name.startswith("part-")]


def test_a_full_queue_drops_and_counts_in_async_mode_and_close_reports_the_loss(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log directory should be")
    plog = PredictionLog(
        blocker / "predictions",
        mode="async",
        batch_size=1,
        capacity=1,
        full_timeout=0,
        flush_interval=3600,
    )
    for i in range(10):
        plog.log(make_record(i))
    stats = plog.stats()
    assert stats.logged + stats.dropped == 10
    assert stats.dropped >= 5
    assert stats.written == 0

    with pytest.raises(PredictionLogError, match=rf"{stats.logged} prediction record\(s\)"):
        plog.close()


def test_a_full_queue_raises_in_sync_mode(tmp_path: Path) -> None:
    plog = PredictionLog(tmp_path, mode="sync", batch_size=1, capacity=1, full_timeout=0)
    with pytest.raises(PredictionLogError, match="stayed full"):
        # More than the capacity at once, while the queue is not empty, cannot fit.
        with plog._lock:
            plog._open.records.append(make_record(0))
            plog._logged += 1
        plog.log_many([make_record(1), make_record(2)])
    plog.close()
    assert plog.stats().dropped == 2


def test_a_failed_sync_write_raises_in_the_caller(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    plog = PredictionLog(blocker / "predictions", mode="sync")
    with pytest.raises(PredictionLogError, match="req-000000 was not logged"):
        plog.log(make_record(0))
    stats = plog.close()
    assert (stats.failed, stats.written, stats.write_errors) == (1, 0, 1)


def test_async_write_failures_are_retried_until_they_succeed(tmp_path: Path) -> None:
    blocker = tmp_path / "log"
    blocker.write_text("in the way")
    plog = PredictionLog(blocker, mode="async", batch_size=1, flush_interval=0.02)
    plog.log_many(make_record(i) for i in range(5))
    wait_until(lambda: plog.stats().write_errors >= 2, "the writer to fail and retry")
    blocker.unlink()
    stats = plog.close()
    assert (stats.written, stats.failed) == (5, 0)
    assert len(read_predictions(blocker, "credit")) == 5


def test_a_day_directory_removed_under_the_writer_is_made_again(tmp_path: Path) -> None:
    with PredictionLog(tmp_path, mode="sync") as plog:
        plog.log(make_record(0))
        shutil.rmtree(tmp_path / "endpoint=credit")  # e.g. retention
        plog.log(make_record(1))
    assert list(read_predictions(tmp_path, "credit")["request_id"]) == ["req-000001"]


def test_logging_after_close_is_refused(tmp_path: Path) -> None:
    plog = PredictionLog(tmp_path)
    plog.close()
    with pytest.raises(PredictionLogError, match="closed"):
        plog.log(make_record(0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "eventually"}, "mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10, "capacity": 5}, "capacity"),
        ({"flush_interval": 0}, "flush_interval"),
    ],
)
def test_bad_parameters_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        PredictionLog(tmp_path, **kwargs)


def test_record_timestamps_are_stored_in_utc() -> None:
    record = make_record(
        0, timestamp=datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    )
    assert record.timestamp == datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    assert record.day.isoformat() == "2026-03-02"
    assert BASE_TIME.tzinfo is UTC
