"""Reading the prediction log: windows, pruning, columns, and versions with other inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from stead.core.errors import UsageError
from stead.predictions.layout import BASE_SCHEMA
from stead.predictions.reader import prediction_files, read_prediction_table, read_predictions
from stead.predictions.writer import PredictionLog

from .records import BASE_TIME, make_record

DAY = timedelta(days=1)


def log_days(directory: Path, days: int, per_day: int = 3) -> None:
    """``per_day`` records at 12:00, 12:00:01 ... on each of ``days`` days."""
    with PredictionLog(directory) as plog:
        for d in range(days):
            for k in range(per_day):
                i = d * per_day + k
                plog.log(make_record(i, timestamp=BASE_TIME + d * DAY + timedelta(seconds=k)))


def test_a_window_reads_only_its_days(tmp_path: Path) -> None:
    log_days(tmp_path, days=5)
    # A damaged file on a day outside the window: reading the window must not open it.
    outside = tmp_path / "endpoint=credit" / "date=2026-03-05" / "part-damaged.parquet"
    outside.write_bytes(b"not parquet")

    since, until = BASE_TIME + DAY, datetime(2026, 3, 4, tzinfo=UTC)
    files = prediction_files(tmp_path, "credit", since, until)
    assert sorted({f.parent.name for f in files}) == ["date=2026-03-02", "date=2026-03-03"]

    frame = read_predictions(tmp_path, "credit", since, until)
    assert list(frame["request_id"]) == [f"req-{i:06d}" for i in range(3, 9)]


def test_since_is_included_and_until_is_excluded(tmp_path: Path) -> None:
    log_days(tmp_path, days=2)
    since = BASE_TIME + timedelta(seconds=1)
    until = BASE_TIME + DAY + timedelta(seconds=1)
    frame = read_predictions(tmp_path, "credit", since, until)
    assert list(frame["request_id"]) == ["req-000001", "req-000002", "req-000003"]


def test_a_window_ending_at_midnight_does_not_need_the_next_day(tmp_path: Path) -> None:
    log_days(tmp_path, days=2)
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    files = prediction_files(tmp_path, "credit", since=None, until=midnight)
    assert {f.parent.name for f in files} == {"date=2026-03-01"}


def test_times_may_be_given_as_iso_text(tmp_path: Path) -> None:
    log_days(tmp_path, days=3)
    frame = read_predictions(tmp_path, "credit", "2026-03-02", "2026-03-03T00:00:00Z")
    assert len(frame) == 3
    with pytest.raises(UsageError, match="since"):
        read_predictions(tmp_path, "credit", "yesterday-ish")
    with pytest.raises(UsageError, match="swap them"):
        read_predictions(tmp_path, "credit", "2026-03-03", "2026-03-02")


def test_an_endpoint_without_predictions_gives_an_empty_frame(tmp_path: Path) -> None:
    frame = read_predictions(tmp_path, "nothing-yet")
    assert len(frame) == 0
    assert set(BASE_SCHEMA.names) | {"endpoint"} == set(frame.columns)


def test_only_the_requested_columns_are_read(tmp_path: Path) -> None:
    log_days(tmp_path, days=1)
    table = read_prediction_table(
        tmp_path, "credit", columns=["timestamp", "inputs.age", "inputs.not_logged", "endpoint"]
    )
    assert table.column_names == ["timestamp", "inputs.age", "inputs.not_logged", "endpoint"]
    assert table["inputs.age"].to_pylist() == [30, 31, 32]
    assert table["inputs.not_logged"].null_count == 3
    assert table["endpoint"].to_pylist() == ["credit"] * 3


def test_versions_with_different_inputs_are_read_together(tmp_path: Path) -> None:
    # Three model versions, three files: a column added, one widened, one changing kind.
    with PredictionLog(tmp_path) as plog:
        plog.log(make_record(0, model_version="credit@1", inputs={"age": 30, "zip": 75001}))
    with PredictionLog(tmp_path) as plog:
        plog.log(
            make_record(
                1, model_version="credit@2", inputs={"age": 30.5, "zip": 69001, "score": 0.7}
            )
        )
    with PredictionLog(tmp_path) as plog:
        plog.log(make_record(2, model_version="credit@3", inputs={"age": 31, "zip": "SW1A"}))

    types = {str(pq.read_schema(f).field("inputs.zip").type) for f in tmp_path.rglob("*.parquet")}
    assert types == {"int64", "string"}
    frame = read_predictions(tmp_path, "credit")
    assert list(frame["inputs.age"]) == [30.0, 30.5, 31.0]
    assert list(frame["inputs.zip"]) == ["75001", "69001", "SW1A"]
    assert frame["inputs.score"].isna().tolist() == [True, False, True]


def test_a_latency_percentile_needs_one_column(tmp_path: Path) -> None:
    log_days(tmp_path, days=2, per_day=50)
    table = read_prediction_table(tmp_path, "credit", columns=["latency_ms"])
    assert table.num_columns == 1 and table.num_rows == 100
    assert table.to_pandas()["latency_ms"].quantile(0.5) == pytest.approx(1.0495)
