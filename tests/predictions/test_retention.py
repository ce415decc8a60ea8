"""Retention: old prediction-log days and feedback go, audited; nothing else does."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd

from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT, NOW, ingest_labels
from tests.stores import ON_BOTH_STORES
from tests.training.projects import set_tables


def _days(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(f".stead/**/endpoint={ENDPOINT}/date=*"))


@ON_BOTH_STORES
def test_retention_deletes_old_days_and_feedback_with_an_audit_record(
    monitored_dir: Path, data: pd.DataFrame
) -> None:
    with Workspace.open(monitored_dir) as ws:
        ingest_labels(ws, data, NOW)
    set_tables(monitored_dir, {"retention": {"predictions": "90d", "feedback": "180d"}})
    before = _days(monitored_dir)
    with Workspace.open(monitored_dir) as ws:
        plan = ws.retention.apply(dry_run=True)
        assert _days(monitored_dir) == before  # a dry run deletes nothing
        assert ws.audit.events(action="retention") == []
        outcome = ws.retention.apply()
        kept = ws.predictions.read(ENDPOINT)
        labels = ws.feedback.read(ENDPOINT)
        events = ws.audit.events(action="retention")
        chain = ws.audit.verify()
        ws.models.verify("credit@1")  # registered artifacts are untouched
        snapshot_rows = len(ws.datasets.load("credit@1"))

    cutoff = NOW - timedelta(days=90)
    assert plan.prediction_rows == outcome.prediction_rows > 0
    assert plan.feedback_rows == outcome.feedback_rows
    assert sum(outcome.feedback_rows.values()) > 0
    assert all(p.day < cutoff.date() for p in outcome.partitions)
    assert kept["timestamp"].min() >= pd.Timestamp(cutoff.date(), tz="UTC")
    assert len(kept) == len(data) - outcome.prediction_rows
    assert labels["timestamp"].min() >= pd.Timestamp(NOW - timedelta(days=180))
    assert [e.action for e in events] == ["retention.start", "retention.apply"]
    assert events[-1].details["prediction_rows"] == outcome.prediction_rows
    assert events[-1].details["feedback_rows"] == sum(outcome.feedback_rows.values())
    assert events[-1].details["predictions_by_endpoint"][ENDPOINT]["days"] == len(
        outcome.partitions
    )
    assert outcome.event_id == events[-1].id
    assert chain.ok  # no audit event was deleted
    assert snapshot_rows == 1800

    # Applying again finds nothing more to delete.
    with Workspace.open(monitored_dir) as ws:
        again = ws.retention.apply()
    assert again.prediction_rows == 0 and sum(again.feedback_rows.values()) == 0


def test_without_periods_nothing_is_deleted(monitored_dir: Path) -> None:
    before = _days(monitored_dir)
    with Workspace.open(monitored_dir) as ws:
        outcome = ws.retention.apply()
    assert _days(monitored_dir) == before
    assert "no [retention] predictions period, kept" in outcome.message
    assert outcome.partitions == [] and outcome.feedback_rows == {}


@ON_BOTH_STORES
def test_retention_counts_each_prediction_once_after_compaction(monitored_dir: Path) -> None:
    set_tables(monitored_dir, {"retention": {"predictions": "90d"}})
    with Workspace.open(monitored_dir) as ws:
        # A second file in some old days (the fixture logs one file per day).
        old = ws.predictions.records(ENDPOINT, until=NOW - timedelta(days=120))[:40]
        with ws.predictions.open_log(mode="sync") as plog:
            plog.log_many(replace(r, request_id=f"{r.request_id}-late") for r in old)
        before = ws.retention.apply(dry_run=True)
        # The merged files stay beside the compacted ones for an hour (keep_replaced).
        compaction = ws.predictions.compact()
        after = ws.retention.apply(dry_run=True)
    assert compaction.changed
    assert after.prediction_rows == before.prediction_rows > 0
    assert sum(p.files for p in after.partitions) < sum(p.files for p in before.partitions)
