"""The metadata store suite: every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from stead.core.errors import NotFound
from stead.data.tables import DatasetSnapshotRow
from stead.workspace import Workspace

from ..data.frames import small_frame


def test_a_change_and_its_audit_event_commit_together(any_ws: Workspace) -> None:
    outcome = any_ws.datasets.snapshot(small_frame(), name="credit")
    events = any_ws.audit.events(subject="dataset:credit")
    assert [(e.action, e.subject, e.actor) for e in events] == [
        ("dataset.snapshot", "dataset:credit@1", "tester")
    ]
    assert events[0].details["snapshot_id"] == outcome.snapshot.id


def test_a_failed_change_leaves_neither_rows_nor_event(any_ws: Workspace) -> None:
    before = len(any_ws.audit.events())
    with (
        pytest.raises(RuntimeError),
        any_ws.store.change("dataset.snapshot", "dataset:x") as change,
    ):
        change.session.execute(text("DELETE FROM workspace_meta WHERE key = 'nothing'"))
        raise RuntimeError("boom")
    assert len(any_ws.audit.events()) == before
    assert any_ws.audit.verify().ok


def test_versions_are_numbered_per_name(any_ws: Workspace) -> None:
    frame = small_frame()
    refs = [any_ws.datasets.snapshot(frame.iloc[: 10 + i], name="a").snapshot.ref for i in range(3)]
    refs.append(any_ws.datasets.snapshot(frame, name="b").snapshot.ref)
    assert refs == ["a@1", "a@2", "a@3", "b@1"]
    assert [s.ref for s in any_ws.datasets.list("a")] == ["a@3", "a@2", "a@1"]


def test_unknown_names_and_versions_are_not_found(any_ws: Workspace) -> None:
    any_ws.datasets.snapshot(small_frame(), name="a")
    with pytest.raises(NotFound, match="versions are 1 to 1"):
        any_ws.datasets.get("a@5")
    with pytest.raises(NotFound, match="no dataset named 'zzz'"):
        any_ws.datasets.get("zzz")


def test_audit_verify_passes_on_an_untouched_chain(any_ws: Workspace) -> None:
    for i in range(3):
        any_ws.datasets.snapshot(small_frame().iloc[: 5 + i], name="a")
    result = any_ws.audit.verify()
    assert result.ok and result.events_checked == 4  # workspace.create + 3 snapshots


def test_audit_queries_filter_by_subject_actor_and_action(any_ws: Workspace) -> None:
    any_ws.datasets.snapshot(small_frame(), name="a")
    any_ws.datasets.snapshot(small_frame(), name="b")
    assert [e.subject for e in any_ws.audit.events(subject="dataset:b")] == ["dataset:b@1"]
    assert len(any_ws.audit.events(actor="tester")) == 3
    assert [e.action for e in any_ws.audit.events(action="workspace")] == ["workspace.create"]
    assert len(any_ws.audit.events(limit=1)) == 1


def test_snapshot_rows_point_at_stored_artifacts(any_ws: Workspace) -> None:
    any_ws.datasets.snapshot(small_frame(), name="a")
    with any_ws.store.read() as session:
        row = session.scalars(select(DatasetSnapshotRow)).one()
    assert any_ws.artifacts.exists(row.artifact)
