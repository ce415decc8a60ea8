from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stead.core.errors import NotFound
from stead.core.ids import new_id
from stead.predictions.lookup import INDEX_FILE, find_predictions, time_of_id
from stead.workspace import Workspace
from tests.conftest import Cli
from tests.serving.served import LOGISTIC, TREES, log_predictions
from tests.training.projects import credit_frame

PAST = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _log_dir(ws: Workspace) -> Path:
    return ws.predictions.directory


def test_stead_lineage_walks_from_a_request_id_to_code_data_features_and_environment(
    sws: Workspace, served_dir: Path
) -> None:
    [request_id] = log_predictions(sws, TREES, credit_frame(1, seed=4))
    sws.feedback.record("credit", request_id, label=1, kpis={"revenue": 40.0})
    cli = Cli(served_dir)

    _, text, _ = cli("lineage", request_id)
    _, as_json, _ = cli("lineage", request_id, "--json")

    assert text.startswith(f"prediction {request_id} on endpoint credit (production, {TREES}")
    for line in (
        "└── model version credit@1",
        "└── run run",
        "├── snapshot apps@1",
        "├── feature set credit@",
        "├── code version",
        "└── environment Python",
    ):
        assert line in text
    assert "feedback: label=1, revenue=40.0" in text
    tree = json.loads(as_json)
    assert tree["kind"] == "prediction" and tree["facts"]["revision"] == 1
    assert tree["facts"]["inputs"].keys() == {"income", "age", "region"}
    [model] = tree["children"]
    [run] = model["children"]
    assert [c["kind"] for c in run["children"]] == [
        "snapshot",
        "feature_set",
        "code_version",
        "environment",
    ]


def test_a_request_answered_by_production_and_a_shadow_shows_both_versions(
    sws: Workspace,
) -> None:
    frame = credit_frame(1, seed=4)
    [request_id] = log_predictions(sws, TREES, frame)
    log_predictions(sws, LOGISTIC, frame, request_ids=[request_id], role="shadow")

    tree = sws.lineage(request_id)

    assert tree.kind == "request" and len(tree.children) == 2
    assert [(n.facts["role"], n.children[0].id) for n in tree.children] == [
        ("production", sws.models.get(TREES).id),
        ("shadow", sws.models.get(LOGISTIC).id),
    ]


def test_an_unknown_target_names_what_lineage_can_start_from(served_dir: Path) -> None:
    _, _, err = Cli(served_dir)("lineage", "req_01a0000000000000000000000", expect=3)
    assert "lineage starts from: NAME@N (a model version); a request id" in err


def test_a_client_id_on_a_closed_day_is_found_and_the_day_gets_an_index(
    sws: Workspace,
) -> None:
    log_predictions(sws, TREES, credit_frame(3, seed=1), request_ids=["a", "b", "c"], at=PAST)
    log_predictions(
        sws,
        TREES,
        credit_frame(2, seed=2),
        request_ids=["order-17", "z"],
        at=PAST + timedelta(days=1),
    )
    directory = _log_dir(sws)
    day = directory / "endpoint=credit" / "date=2026-03-01"

    found = find_predictions(directory, ["b"])

    assert found.column("request_id").to_pylist() == ["b"]
    assert found.column("endpoint").to_pylist() == ["credit"]
    # The newest day was searched first and did not have it; both days are now indexed.
    assert (day / INDEX_FILE).is_file()
    assert (directory / "endpoint=credit" / "date=2026-03-02" / INDEX_FILE).is_file()


def test_a_file_written_to_a_day_after_its_index_is_still_found(sws: Workspace) -> None:
    log_predictions(sws, TREES, credit_frame(2, seed=1), request_ids=["a", "b"], at=PAST)
    directory = _log_dir(sws)
    assert find_predictions(directory, ["a"]).num_rows == 1  # builds the index

    # A late write (a retried batch) lands in the indexed day.
    log_predictions(
        sws, LOGISTIC, credit_frame(1, seed=2), request_ids=["late"], at=PAST + timedelta(hours=1)
    )

    late = find_predictions(directory, ["late", "a"], columns=["model_version"])
    assert sorted(late.column("request_id").to_pylist()) == ["a", "late"]
    assert dict(
        zip(*late.select(["request_id", "model_version"]).to_pydict().values(), strict=True)
    ) == {"a": TREES, "late": LOGISTIC}


def test_a_stead_request_id_is_looked_for_in_its_own_day_first(sws: Workspace) -> None:
    # Two closed days; the id made on the first names that day, so the other day is
    # never opened (and so never indexed).
    [request_id] = log_predictions(
        sws, TREES, credit_frame(1), request_ids=["req_019ca92e3c00" + "ab" * 7], at=PAST
    )
    assert time_of_id(request_id) is not None and time_of_id(request_id).date() == PAST.date()
    log_predictions(sws, TREES, credit_frame(1), request_ids=["other"], at=PAST + timedelta(days=5))
    directory = _log_dir(sws)

    assert find_predictions(directory, [request_id]).num_rows == 1
    assert not (directory / "endpoint=credit" / "date=2026-03-06" / INDEX_FILE).exists()


def test_an_unknown_request_id_has_no_lineage(sws: Workspace) -> None:
    with pytest.raises(NotFound, match="no prediction with request id 'nope'"):
        sws.lineage("nope")


def test_a_batch_scored_row_traces_back_to_its_model_too(sws: Workspace, tmp_path: Path) -> None:
    batch = tmp_path / "in.parquet"
    credit_frame(5, seed=6).to_parquet(batch)
    outcome = sws.scoring.score(TREES, batch, tmp_path / "out.parquet")
    request_id = f"{outcome.job_id}-000003"

    tree = sws.lineage(request_id)

    assert tree.kind == "prediction" and tree.facts["endpoint"] == "credit.batch"
    assert tree.facts["revision"] == "none (batch)"
    assert tree.children[0].id == sws.models.get(TREES).id


def test_the_id_of_a_multi_record_request_finds_each_of_its_records(
    sws: Workspace, served_dir: Path
) -> None:
    # A request of three records is logged as ID.0, ID.1, ID.2; the client holds ID.
    request_id = new_id("req_")
    log_predictions(
        sws, TREES, credit_frame(3, seed=3), request_ids=[f"{request_id}.{i}" for i in range(3)]
    )
    # Another request whose id merely starts with the same characters is not part of it.
    log_predictions(sws, TREES, credit_frame(1, seed=5), request_ids=[f"{request_id}0.0"])

    tree = sws.lineage(request_id)
    _, text, _ = Cli(served_dir)("lineage", request_id, "--brief")

    assert tree.kind == "request" and tree.label == f"request {request_id} (3 predictions)"
    assert [n.id for n in tree.children] == [f"{request_id}.{i}" for i in range(3)]
    assert text.startswith(f"request {request_id} (3 predictions)")
    assert sws.lineage(f"{request_id}.1").id == f"{request_id}.1"
