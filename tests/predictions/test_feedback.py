from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table

from stead.core.db import Base
from stead.core.errors import Conflict, DataError, NotFound, PermissionDenied, UsageError
from stead.predictions import tables  # noqa: F401  (registers feedback and batch_jobs)
from stead.workspace import Workspace
from tests.serving.served import TREES, log_predictions
from tests.training.projects import credit_frame, write_project

DAY = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _labelled(ws: Workspace, rows: int = 6, *, at: datetime = DAY) -> list[str]:
    return log_predictions(ws, TREES, credit_frame(rows, seed=3), at=at)


def test_ingest_joins_labels_and_kpis_to_predictions_and_reports_unknown_ids(
    sws: Workspace, tmp_path: Path
) -> None:
    ids = _labelled(sws)
    csv = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "request_id": [*ids[:4], "req_typo"],
            "label": [1, 0, 1, 1, 0],
            "revenue": [120.0, None, 80.5, 10.0, 5.0],
        }
    ).to_csv(csv, index=False)

    outcome = sws.feedback.ingest("credit", csv)

    assert (outcome.received, outcome.stored, outcome.unchanged) == (5, 4, 0)
    assert outcome.unknown == ["req_typo"]
    assert "1 unknown request id(s) NOT stored" in outcome.message and "req_typo" in outcome.message
    frame = sws.feedback.read("credit", DAY, DAY + timedelta(hours=1))
    assert list(frame["request_id"]) == ids[:4]
    assert list(frame["label"]) == [1, 0, 1, 1]
    assert frame["kpis.revenue"].tolist()[0] == 120.0 and pd.isna(frame["kpis.revenue"][1])
    assert set(frame["model_version"]) == {TREES}
    assert {"timestamp", "outputs.prediction", "outputs.probabilities.1", "feedback_at"} <= set(
        frame.columns
    )
    assert not any(c.startswith("inputs.") for c in frame.columns)
    [event] = sws.audit.events(action="feedback.")
    assert event.action == "feedback.ingest" and event.subject == "endpoint:credit"
    assert event.details["stored"] == 4 and event.details["unknown_ids"] == ["req_typo"]


def test_ingesting_the_same_file_again_stores_nothing_new(sws: Workspace, tmp_path: Path) -> None:
    ids = _labelled(sws)
    parquet = tmp_path / "labels.parquet"
    pd.DataFrame({"request_id": ids, "label": [1, 0, 1, 0, 1, 0]}).to_parquet(parquet)
    sws.feedback.ingest("credit", parquet)

    again = sws.feedback.ingest("credit", parquet)

    assert (again.stored, again.unchanged, again.unknown) == (0, 6, [])
    assert len(sws.feedback.read("credit")) == 6
    assert [e.details["stored"] for e in sws.audit.events(action="feedback.")] == [6, 0]


def test_kpis_accumulate_and_the_same_label_again_is_a_no_op(sws: Workspace) -> None:
    [request_id] = _labelled(sws, rows=1)
    sws.feedback.record("credit", request_id, label=0, kpis={"revenue": 50.0})

    more = sws.feedback.record("credit", request_id, label=0, kpis={"loss": 7})
    repeated = sws.feedback.record("credit", request_id, label=0)

    assert (more.stored, more.corrected) == (1, 0)
    assert (repeated.stored, repeated.unchanged) == (0, 1)
    row = sws.feedback.read("credit").iloc[0]
    assert row["label"] == 0 and row["kpis.revenue"] == 50.0 and row["kpis.loss"] == 7


def test_feedback_never_changes_a_label_and_names_the_correction(
    sws: Workspace, tmp_path: Path
) -> None:
    ids = _labelled(sws, rows=3)
    sws.feedback.record("credit", ids[0], label=0)

    with pytest.raises(Conflict) as refused:
        sws.feedback.record("credit", ids[0], label=1)
    message = refused.value.message
    assert f"{ids[0]} (0 -> 1)" in message and "nothing was stored" in message
    assert "stead feedback correct credit REQUEST_ID LABEL --reason" in message
    assert '"correct": true' in message
    # A file that relabels one prediction stores none of its rows.
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ids, "label": [1, 1, 0]}).to_csv(labels, index=False)
    with pytest.raises(Conflict, match="1 prediction\\(s\\) of endpoint credit already"):
        sws.feedback.ingest("credit", labels)

    frame = sws.feedback.read("credit")
    assert list(frame["request_id"]) == [ids[0]] and list(frame["label"]) == [0]
    assert [e.action for e in sws.audit.events(action="feedback.")] == ["feedback.record"]


def test_a_correction_needs_a_reason_and_is_audited_before_and_after(sws: Workspace) -> None:
    first, unlabelled = _labelled(sws, rows=2)
    sws.feedback.record("credit", first, label=0, kpis={"revenue": 50.0})

    with pytest.raises(UsageError, match="a correction needs a reason"):
        sws.feedback.correct("credit", first, label=1, reason=" ")
    with pytest.raises(Conflict, match="has no label yet, so there is nothing to correct"):
        sws.feedback.correct("credit", unlabelled, label=1, reason="relabelled")
    corrected = sws.feedback.correct("credit", first, label=1, reason="the loan defaulted late")
    again = sws.feedback.correct("credit", first, label=1, reason="the loan defaulted late")

    assert (corrected.stored, corrected.corrected) == (1, 1)
    assert (again.stored, again.unchanged) == (0, 1)
    row = sws.feedback.read("credit").iloc[0]
    assert row["label"] == 1 and row["kpis.revenue"] == 50.0
    history = sws.feedback.history("credit", first)
    assert [(h["label"], h["source"]) for h in history] == [(0, "api"), (1, "correction")]
    [event] = sws.audit.events(action="feedback.correct")
    assert event.reason == "the loan defaulted late" and event.actor == "tester"
    assert event.details["request_id"] == first
    assert event.details["before"]["label"] == 0 and event.details["after"] == {"label": 1}
    assert event.details["before"]["recorded_by"] == "tester"


def test_only_the_owning_team_or_an_admin_sends_feedback(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:  # tester, of risk-team, which owns credit@1
        ws.endpoints.deploy("credit", "credit@1")
        [request_id] = _labelled(ws, rows=1)
    with Workspace.open(dep_dir, actor="mallory") as ws:  # of team growth
        with pytest.raises(PermissionDenied) as refused:
            ws.feedback.record("credit", request_id, label=1)
        with pytest.raises(PermissionDenied):
            ws.feedback.correct("credit", request_id, label=1, reason="x")
        assert ws.feedback.read("credit").empty
        refusals = ws.audit.events(action="feedback.refused")
        assert [e.actor for e in refusals] == ["mallory", "mallory"]
    message = refused.value.message
    assert "'mallory' may not send feedback for endpoint credit" in message
    assert "owned by 'risk-team'" in message and "alice" not in message
    with Workspace.open(dep_dir, actor="alice") as ws:
        assert ws.feedback.record("credit", request_id, label=1).stored == 1
    with Workspace.open(dep_dir, actor="root") as ws:  # an admin, of no team
        assert ws.feedback.correct("credit", request_id, label=0, reason="audit").corrected == 1


def test_feedback_for_an_endpoint_never_deployed_is_for_an_admin_only(
    sws: Workspace, served_dir: Path
) -> None:
    [request_id] = _labelled(sws, rows=1)
    with (
        Workspace.open(served_dir, actor="mallory") as ws,
        pytest.raises(PermissionDenied, match="never deployed, so it has no owner"),
    ):
        ws.feedback.record("credit", request_id, label=1)
    assert sws.feedback.record("credit", request_id, label=1).stored == 1  # tester: admin


def test_a_label_for_an_unknown_request_id_is_refused_and_not_stored(sws: Workspace) -> None:
    [request_id] = _labelled(sws, rows=1)

    with pytest.raises(NotFound, match="no prediction with request id 'req_nothing'"):
        sws.feedback.record("credit", "req_nothing", label=1)
    # The id exists, but another endpoint logged it.
    with pytest.raises(NotFound):
        sws.feedback.record("fraud", request_id, label=1)

    assert sws.feedback.read("credit").empty
    assert sws.audit.events(action="feedback.") == []


def test_the_window_is_the_prediction_time_and_shadow_copies_share_the_label(
    sws: Workspace,
) -> None:
    early = _labelled(sws, rows=2, at=DAY)
    late = _labelled(sws, rows=2, at=DAY + timedelta(days=2))
    log_predictions(
        sws,
        "credit@2",
        credit_frame(2, seed=3),
        request_ids=late,
        at=DAY + timedelta(days=2),
        role="shadow",
    )
    frame = pd.DataFrame({"request_id": early + late, "label": [0, 1, 1, 0]})
    sws.feedback.ingest_frame("credit", frame)

    window = sws.feedback.read("credit", DAY + timedelta(days=1), DAY + timedelta(days=3))

    assert sorted(window["request_id"].unique()) == sorted(late)
    assert sorted(window["role"]) == ["production", "production", "shadow", "shadow"]
    by_role = window.set_index(["request_id", "role"])["label"]
    assert by_role[(late[0], "shadow")] == by_role[(late[0], "production")] == 1


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"request_id": ["a"], "score": [1]}), "no 'label' column"),
        (pd.DataFrame({"request_id": ["a", "b"], "label": [1, None]}), "label is empty in 1"),
        (pd.DataFrame({"request_id": ["a", "a"], "label": [1, 0]}), "appears twice"),
    ],
)
def test_a_bad_feedback_file_is_refused_with_what_to_fix(
    sws: Workspace, frame: pd.DataFrame, match: str
) -> None:
    with pytest.raises(DataError, match=match):
        sws.feedback.ingest_frame("credit", frame)


def test_the_0007_migration_creates_exactly_the_feedback_and_batch_job_tables(
    sws: Workspace,
) -> None:
    with sws.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diffs if {"feedback", "batch_jobs"} & _tables_of(d)]
    assert ours == []


def _tables_of(diff: object) -> set[str]:
    item = diff[0] if isinstance(diff, list) else diff
    names: set[str] = set()
    for part in item if isinstance(item, tuple) else ():
        if isinstance(part, str):
            names.add(part)
        table = part if isinstance(part, Table) else getattr(part, "table", None)
        if isinstance(table, Table):
            names.add(table.name)
    return names


def test_feedback_round_trips_on_every_metadata_store(tmp_path: Path, store_url: str) -> None:
    root = tmp_path / "ws"
    Workspace.init(root, store_url=store_url)
    write_project(root)
    with Workspace.open(root) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        ref = ws.models.register(ws.runs.train().run.id, name="credit").version.ref
        ids = log_predictions(ws, ref, credit_frame(3, seed=2), at=DAY)
        labels = pd.DataFrame({"request_id": ids, "label": ["yes", 1, True]})

        first = ws.feedback.ingest_frame("credit", labels)
        again = ws.feedback.ingest_frame("credit", labels)

        assert (first.stored, again.unchanged) == (3, 3)
        frame = ws.feedback.read("credit")
        assert frame.set_index("request_id")["label"].to_dict() == dict(
            zip(ids, ["yes", 1, True], strict=True)
        )
        with pytest.raises(Conflict):
            ws.feedback.ingest_frame("credit", labels.assign(label=["no", 1, True]))
        ws.feedback.correct("credit", ids[0], label="no", reason="relabelled")
        assert ws.feedback.read("credit").set_index("request_id")["label"][ids[0]] == "no"
        [event] = ws.audit.events(action="feedback.correct")
        assert (event.details["before"]["label"], event.details["after"]["label"]) == ("yes", "no")
        assert ws.audit.verify().ok
