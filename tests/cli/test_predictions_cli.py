from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stead.workspace import Workspace
from tests.conftest import Cli
from tests.predictions.records import make_record
from tests.serving.served import LOGISTIC, TREES, log_predictions
from tests.training.projects import credit_frame

DAY = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_tail_shows_the_latest_predictions_across_days_oldest_first(
    sws: Workspace, served_dir: Path
) -> None:
    older = log_predictions(sws, TREES, credit_frame(4, seed=1), at=DAY)
    newer = log_predictions(sws, LOGISTIC, credit_frame(3, seed=2), at=DAY + timedelta(days=1))
    cli = Cli(served_dir)

    _, text, _ = cli("predictions", "tail", "credit", "-n", "5")
    _, as_json, _ = cli("predictions", "tail", "credit", "-n", "5", "--json")

    records = json.loads(as_json)
    assert [r["request_id"] for r in records] == older[2:] + newer
    assert records[-1]["model_version"] == LOGISTIC and records[-1]["revision"] == 1
    assert set(records[0]["outputs"]) == {"prediction", "probabilities"}
    assert "latest predictions of credit" in text
    assert text.index(older[2]) < text.index(newer[-1]) and older[1] not in text
    assert "prediction=" in text and "2026-03-02 12:00:00.000" in text


def test_tail_of_an_endpoint_without_predictions_is_empty(served_dir: Path) -> None:
    _, as_json, _ = Cli(served_dir)("predictions", "tail", "credit", "--json")
    assert json.loads(as_json) == []


def test_tail_follow_prints_each_new_prediction_as_it_is_logged(
    sws: Workspace, served_dir: Path
) -> None:
    [first] = log_predictions(sws, TREES, credit_frame(1, seed=1))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stead",
            "predictions",
            "tail",
            "credit",
            "--follow",
            "--json",
            "--poll",
            "0.1",
        ],
        cwd=served_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout],  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        assert json.loads(lines.get(timeout=60))["request_id"] == first
        later = log_predictions(sws, LOGISTIC, credit_frame(2, seed=2))
        seen = [json.loads(lines.get(timeout=60))["request_id"] for _ in later]
        assert seen == later
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_compact_merges_closed_days_is_audited_and_reads_back_the_same(
    ws: Workspace, ws_dir: Path
) -> None:
    with ws.predictions.open_log(mode="sync") as plog:
        for f in range(8):
            plog.log_many(make_record(f * 3 + k) for k in range(3))
    before = ws.predictions.read("credit")
    cli = Cli(ws_dir)

    _, planned, _ = cli("predictions", "compact", "--dry-run", "--json")
    _, done, _ = cli("predictions", "compact", "credit", "--keep-replaced", "0", "--json")
    _, again, _ = cli("predictions", "compact")

    [plan] = json.loads(planned)["days"]
    [day] = json.loads(done)["days"]
    assert (plan["files_before"], plan["files_after"], plan["vacuumed"]) == (8, 1, 0)
    assert (day["day"], day["files_after"], day["rows"], day["vacuumed"]) == (
        "2026-03-01",
        1,
        24,
        8,
    )
    assert "nothing to compact" in again
    assert ws.predictions.read("credit").equals(before)
    [event] = ws.audit.events(action="predictions.compact")
    assert event.subject == "predictions/credit" and event.details["days"][0]["rows"] == 24


def test_compact_refuses_a_bad_duration_with_what_to_write(ws_dir: Path) -> None:
    _, _, err = Cli(ws_dir)("predictions", "compact", "--settle", "soon", expect=2)
    assert "--settle 'soon' is not a duration" in err and "1h" in err
