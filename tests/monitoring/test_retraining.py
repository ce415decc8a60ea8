"""Retraining on evidence: audited, gated, processed once, a canary only if allowed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from stead.core.errors import Conflict
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT, NOW, ingest_labels
from tests.stores import ON_BOTH_STORES
from tests.training.projects import set_tables

RETRAINING = {
    "automatic": False,
    "evaluation_window": "20d",
    "min_evaluation_rows": 50,
    "auto_canary": True,
    "canary_share": 20.0,
}


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
def test_a_manual_retrain_makes_an_audited_candidate_and_a_canary_when_allowed(
    monitored_dir: Path, data: pd.DataFrame
) -> None:
    # The concept drifts: the backtest finds the candidate 0.027 roc_auc behind, inside
    # this tolerance (the default's refusal is tested in test_retraining_backtest.py).
    set_tables(monitored_dir, {"retraining": RETRAINING, "checklist": {"champion_tolerance": 0.05}})
    with Workspace.open(monitored_dir) as ws:
        ingest_labels(ws, data, NOW)
        trigger = ws.monitors.retrain(ENDPOINT, reason="new lending policy from July")
        endpoint = ws.endpoints.get(ENDPOINT)
        candidate = ws.models.get("credit@2")
        snapshot = ws.datasets.get(trigger.outcome["snapshot"])
        events = ws.audit.events(subject=f"trigger:{trigger.id}")
        run_events = ws.audit.events(action="run.start")

    assert trigger.status == "done", trigger.error
    assert trigger.kind == "manual" and trigger.outcome["production"] == "credit@1"
    # New data: the training months plus every labelled production prediction; the
    # newest ones were held out of the backtest only.
    data_used = trigger.outcome["production_data"]
    assert trigger.outcome["production_rows"] == data_used["labelled"] > data_used["window"] > 0
    assert snapshot.rows == 1800 + trigger.outcome["production_rows"]
    assert f"retrain trigger {trigger.id}" in (snapshot.source_path or "")
    assert candidate.stage == "staging", {
        k: v
        for k, v in trigger.outcome.items()
        if k in ("ready", "blocking", "canary", "skipped", "problem", "comparison")
    }
    assert trigger.id in (candidate.description or "")
    assert "with the spec of production run" in (candidate.description or "")
    comparison = trigger.outcome["comparison"]
    assert comparison["rows"] >= 50 and {"challenger_value", "champion_value"} <= set(comparison)
    assert trigger.outcome["ready"] is True and trigger.outcome["verified"] is True
    assert endpoint.policy.production == "credit@1"  # promotion stays manual
    assert endpoint.policy.canary == "credit@2" and endpoint.policy.canary_share == 0.2
    assert [e.action for e in events] == [
        "retrain.trigger",
        "retrain.start",
        "retrain.spec",
        "retrain.snapshot",
        "retrain.backtest",
        "retrain.train",
        "retrain.register",
        "retrain.reproduce",
        "retrain.compare",
        "retrain.checklist",
        "retrain.canary",
        "retrain.finish",
    ]
    assert all(e.details["endpoint"] == ENDPOINT for e in events[2:-1])
    assert any(trigger.id in (e.reason or "") for e in run_events)


@ON_BOTH_STORES
def test_a_trigger_is_processed_once_and_the_same_inputs_retrain_nothing(mws: Workspace) -> None:
    # No labels yet: the same data and spec give the same run as production.
    trigger = mws.monitors.retrain(ENDPOINT, reason="refresh")
    assert trigger.status == "no_change"
    assert "give the production version credit@1" in trigger.outcome["message"]
    with pytest.raises(Conflict, match="a trigger is processed once"):
        mws.monitors.process(trigger.id)
    assert [v.ref for v in mws.models.list("credit")] == ["credit@1"]


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
@ON_BOTH_STORES
def test_the_monitor_triggers_once_however_often_it_fires(
    monitored_dir: Path, data: pd.DataFrame
) -> None:
    set_tables(monitored_dir, {"retraining": {**RETRAINING, "automatic": True}})
    with Workspace.open(monitored_dir) as ws:
        ingest_labels(ws, data, NOW)
        first = ws.monitors.run(ENDPOINT)
        forced = ws.monitors.run(ENDPOINT, force=True)
        triggers = ws.monitors.triggers(ENDPOINT)
        decisions = ws.monitors.decisions(ENDPOINT)
    assert len(first.triggers) == 1 and first.triggers[0].status == "done"
    assert forced.triggers == []
    assert len(triggers) == 1 and triggers[0].kind == "drift_and_drop"
    assert triggers[0].evidence["drift"]["features"]["income"]
    assert triggers[0].evidence["performance"]["source"] == "measured"
    suppressed = [d for d in decisions if d.kind == "suppressed_retrain"]
    assert suppressed and all(d.trigger_id == triggers[0].id for d in suppressed)
