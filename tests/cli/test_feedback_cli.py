from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from stead.workspace import Workspace
from tests.conftest import Cli
from tests.serving.served import TREES, log_predictions
from tests.training.projects import credit_frame


def test_feedback_ingest_stores_labels_and_lists_unknown_request_ids(
    sws: Workspace, served_dir: Path, tmp_path: Path
) -> None:
    ids = log_predictions(sws, TREES, credit_frame(3, seed=1))
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": [*ids, "req_missing"], "label": [1, 0, 1, 1]}).to_csv(
        labels, index=False
    )
    cli = Cli(served_dir)

    _, text, err = cli("feedback", "ingest", "credit", str(labels))
    _, again, _ = cli("feedback", "ingest", "credit", str(labels), "--json")
    cli("feedback", "ingest", "credit", str(labels), "--strict", expect=3)

    assert "3 stored" in text and "req_missing" in text
    assert "1 request id(s)" in err and "were not stored" in err
    body = json.loads(again)
    assert (body["stored"], body["unchanged"], body["unknown"]) == (0, 3, ["req_missing"])


def test_feedback_correct_changes_a_label_with_a_reason_and_ingest_does_not(
    sws: Workspace, served_dir: Path, tmp_path: Path
) -> None:
    [request_id] = log_predictions(sws, TREES, credit_frame(1, seed=1))
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": [request_id], "label": [0]}).to_csv(labels, index=False)
    relabels = tmp_path / "relabels.csv"
    pd.DataFrame({"request_id": [request_id], "label": [1]}).to_csv(relabels, index=False)
    cli = Cli(served_dir)
    cli("feedback", "ingest", "credit", str(labels))

    _, _, refused = cli("feedback", "ingest", "credit", str(relabels), expect=4)
    cli("feedback", "correct", "credit", request_id, "1", expect=2)  # no --reason
    _, text, _ = cli("feedback", "correct", "credit", request_id, "1", "--reason", "paid late")
    _, again, _ = cli(
        "feedback", "correct", "credit", request_id, "1", "--reason", "paid late", "--json"
    )

    assert "already have a different label" in refused
    assert "stead feedback correct credit REQUEST_ID LABEL" in refused
    assert f"corrected the label of {request_id} to 1" in text
    assert json.loads(again)["unchanged"] == 1
    assert sws.feedback.read("credit")["label"].tolist() == [1]  # a number, not the text "1"
    [event] = sws.audit.events(action="feedback.correct")
    assert event.reason == "paid late" and event.details["before"]["label"] == 0
