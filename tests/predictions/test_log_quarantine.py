"""One record the writer cannot store never costs another client's prediction.

1,000 predictions logged from 16 threads, one in a hundred carrying a lone UTF-16
surrogate (which UTF-8, and so Parquet, cannot hold): in every mode the 990 others are
all in the log, the 10 are in the quarantine with the reason, counted in the log's
stats and in ``/metrics``, and no caller of a valid record got an error.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from stead.predictions.layout import encode
from stead.predictions.quarantine import quarantined
from stead.predictions.reader import read_predictions
from stead.predictions.record import PredictionRecord
from stead.predictions.writer import PredictionLog
from stead.serving.predict.metrics import ServingMetrics

from .records import BASE_TIME, make_record

POISON = "\ud800"


def poisoned_mix() -> list[PredictionRecord]:
    records = []
    for i in range(1_000):
        record = make_record(i)
        if i % 100 == 7:
            record = make_record(i, inputs={**record.inputs, "city": f"Par{POISON}is"})
        records.append(record)
    return records


@pytest.mark.parametrize("mode", ["journal", "async", "sync"])
def test_a_poisoned_record_costs_no_other_prediction(tmp_path: Path, mode: str) -> None:
    metrics = ServingMetrics()
    plog = PredictionLog(
        tmp_path,
        mode=mode,  # type: ignore[arg-type]
        flush_interval=0.05,
        on_quarantine=metrics.log_quarantined,
    )
    records = poisoned_mix()
    errors: list[BaseException] = []

    def client(k: int) -> None:
        for record in records[k::16]:
            try:
                plog.log(record)
            except BaseException as exc:  # any error fails the test
                errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = plog.close()

    assert errors == []
    poisoned = {r.request_id for r in records if POISON in str(r.inputs["city"])}
    valid = {r.request_id for r in records} - poisoned
    logged = set(read_predictions(tmp_path, "credit", columns=["request_id"])["request_id"])
    assert logged == valid  # all 990, and none of the 10
    assert stats.quarantined == 10
    held = quarantined(tmp_path, "credit", BASE_TIME, BASE_TIME.replace(year=2027))
    assert {entry["request_id"] for entry in held} == poisoned
    assert all("surrogates not allowed" in entry["reason"] for entry in held)
    text, _ = metrics.render()
    assert b'stead_prediction_log_quarantined_total{endpoint="credit"} 10.0' in text


def test_a_quarantined_record_keeps_its_pii_hashed(tmp_path: Path) -> None:
    from stead.data.sanitize import Sanitizer

    sanitizer = Sanitizer(["email"], mode="hash", key=b"k" * 32)
    record = make_record(0, inputs={"email": "ann@example.com", "city": POISON})
    with PredictionLog(tmp_path, sanitizer=sanitizer) as plog:
        plog.log(record)
    text = next((tmp_path / "quarantine").rglob("*.jsonl")).read_text()
    assert "ann@example.com" not in text
    entry = json.loads(text)
    assert entry["record"]["inputs"]["email"] == sanitizer.hash_value("ann@example.com")
    assert entry["record"]["inputs"]["city"] == POISON


def test_a_refused_request_is_stored_as_one_bounded_text() -> None:
    inputs = {"balance": "lots", **{f"extra{i}": i for i in range(50_000)}}
    refused = make_record(0, role="rejected", outputs={}, inputs=inputs, error="bad")
    table = encode([make_record(1), refused])
    assert not [c for c in table.column_names if c.startswith("inputs.extra")]
    assert table.column("inputs.age").type == "int64"  # the accepted row keeps its types
    text = table.column("refused_inputs").to_pylist()
    assert text[0] is None
    assert text[1].startswith('{"balance": "lots", "extra0": 0') and len(text[1]) <= 4_096
    assert text[1].endswith("characters in all)")
