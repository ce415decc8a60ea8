"""A retrain backtests the candidate's procedure on the newest labelled rows, then refits.

Hourly demand whose level shifts in the newest production traffic: the registered
candidate must have learned the shift (it is refitted on every labelled row) and the
backtest, not the candidate's own evaluation rows, must judge it. On the credit endpoint
the concept drifts so that the backtest finds the candidate worse: the gate refuses it
and only an admin's audited override passes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stead.core.errors import GateFailed
from stead.predictions.outputs import output_dicts, predict_table
from stead.predictions.record import PredictionRecord
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT, NOW, ingest_labels
from tests.training.projects import PROJECT, set_tables, write_project

START = datetime(2026, 3, 1, tzinfo=UTC)
HISTORY_DAYS = 60
SHIFT = 40.0  # the demand level jumps by this much in the newest traffic
DEMAND = "demand"

DEMAND_FEATURES = """\
from sklearn.compose import ColumnTransformer


def build():
    return ColumnTransformer([("num", "passthrough", ["hour", "temperature", "day"])])
"""


def hourly_demand(start: datetime, hours: int, *, shift_from: datetime | None) -> pd.DataFrame:
    """Demand by hour of day and temperature; from ``shift_from`` on, SHIFT higher."""
    rng = np.random.default_rng(int(start.timestamp()) % 2**32)
    times = pd.date_range(start, periods=hours, freq="h", tz=UTC)
    hour = times.hour.to_numpy()
    temperature = rng.normal(15.0, 6.0, hours).round(2)
    frame = pd.DataFrame(
        {
            "slot_id": [f"slot-{t:%Y%m%d%H}" for t in times],
            "at": times,
            "hour": hour,
            "temperature": temperature,
            # Days since the history began: the recency the model can split on.
            "day": np.asarray((times - pd.Timestamp(START)).days),
        }
    )
    level = 100.0 + 30.0 * np.sin(2 * np.pi * hour / 24) + 2.0 * temperature
    if shift_from is not None:
        level = level + SHIFT * np.asarray(times >= pd.Timestamp(shift_from))
    frame[DEMAND] = (level + rng.normal(0.0, 5.0, hours)).round(2)
    return frame


def log_and_label(ws: Workspace, frame: pd.DataFrame, model: str) -> None:
    """Answer ``frame`` with ``model``, log it at each slot's time, then label it all."""
    loaded = ws.models.load(model)
    rows = frame[loaded.input_columns]
    answers = output_dicts(predict_table(loaded.pipeline, rows, loaded.version.output))
    records = [
        PredictionRecord(
            request_id=f"rq-{slot}",
            timestamp=when.to_pydatetime(),
            endpoint="demand",
            revision=1,
            model_version=model,
            role="production",
            feature_set_version=loaded.version.feature_set_version,
            snapshot=loaded.version.snapshot_ref,
            inputs={str(k): v for k, v in record.items()},
            outputs=answers[i],
            latency_ms=2.0,
            error=None,
            entity_key=slot,
        )
        for i, (record, when, slot) in enumerate(
            zip(rows.to_dict("records"), frame["at"], frame["slot_id"], strict=True)
        )
    ]
    with ws.predictions.open_log(mode="sync") as plog:
        plog.log_many(records)
    labels = pd.DataFrame({"request_id": "rq-" + frame["slot_id"], "label": frame[DEMAND]})
    ws.feedback.ingest_frame("demand", labels, source="test labels")


@pytest.fixture(name="demand_dir")
def _demand_dir(ws_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Demand forecasting: 60 days of history trained, deployed as ``demand@1``."""
    write_project(
        ws_dir,
        project={**PROJECT, "name": "demand", "task": "regression", "owner": "tester"},
        columns={"id": "slot_id", "time": "at", "target": DEMAND},
        training={
            "snapshot": "demand",
            "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
            "params": {"max_iter": 60},
            "seed": 3,
            "metrics": ["rmse", "mae"],
            "split": {"method": "time", "eval_fraction": 0.2},
        },
        modules={"features.py": DEMAND_FEATURES},
    )
    set_tables(
        ws_dir,
        {
            "monitoring": {"window": "1d"},
            "alerts": {"sinks": [{"type": "file", "path": "alerts.jsonl"}]},
            "retraining": {
                "automatic": False,
                "evaluation_window": "7d",
                "min_evaluation_rows": 50,
            },
        },
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(
            hourly_demand(START, HISTORY_DAYS * 24, shift_from=None), name="demand"
        )
        run = ws.runs.train().run
        ref = ws.models.register(run.id, name="demand").version.ref
        ws.runs.reproduce(run.id)
        ws.models.promote(ref, to="production", reason="first model")
        ws.endpoints.deploy("demand", ref, reason="first deployment")
    monkeypatch.setenv("STEAD_NOW", (START + timedelta(days=120)).isoformat())
    return ws_dir


@pytest.fixture(name="dws")
def _dws(demand_dir: Path) -> Iterator[Workspace]:
    with Workspace.open(demand_dir) as ws:
        yield ws


def rmse(ws: Workspace, ref: str, rows: pd.DataFrame) -> float:
    loaded = ws.models.load(ref)
    predicted = loaded.pipeline.predict(rows[loaded.input_columns])
    return float(np.sqrt(np.mean((predicted - rows[DEMAND].to_numpy()) ** 2)))


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
def test_the_registered_candidate_learns_the_newest_labelled_rows_and_the_backtest_judges_it(
    dws: Workspace,
) -> None:
    # 30 days of traffic; the level shifts 20 days before the end, so the backtest's
    # training rows (older than the 7-day window) hold 13 shifted days.
    traffic_start = START + timedelta(days=HISTORY_DAYS)
    traffic = hourly_demand(traffic_start, 30 * 24, shift_from=traffic_start + timedelta(days=10))
    log_and_label(dws, traffic, "demand@1")

    trigger = dws.monitors.retrain("demand", reason="demand moved")

    assert trigger.status == "done", trigger.error
    outcome = trigger.outcome
    assert outcome["production_data"] == {
        "labelled": 720,
        "older": 552,
        "window": 168,
        "evaluation_window": "7d",
        "include_feedback": True,
        "skipped": {
            "refused or failed requests (no answer to learn from)": 0,
            "answered by the fallback or missing from the log": 0,
            "duplicate log entries": 0,
        },
        "unlabelled": 0,
    }
    # The registered version was fitted on the history plus every labelled row.
    candidate = dws.models.get(outcome["candidate"])
    run = dws.runs.get(candidate.run_id)
    assert run.spec.split.refit and dws.datasets.get(candidate.snapshot_ref).rows == 1440 + 720
    assert outcome["verified"] is True  # reproduce proves the refitted model bit-identical
    # The backtest: fitted without the window, both scored on the window rows.
    comparison = outcome["comparison"]
    assert comparison["rows"] == 168 and comparison["metric"] == "rmse"
    assert comparison["backtest_run"] != run.id
    assert trigger.evidence["backtest"]["run"] == comparison["backtest_run"]
    assert comparison["champion_value"] > SHIFT * 0.8  # production misses the new level
    assert comparison["challenger_value"] < comparison["champion_value"] / 2
    window = traffic.iloc[-168:]
    assert rmse(dws, candidate.ref, window) < comparison["challenger_value"]
    # The gate judged on that backtest, recorded as the candidate's evidence.
    checklist = dws.models.checklist(candidate.ref)
    item = {i.key: i for i in checklist.items}["champion_challenger"]
    assert item.status == "pass" and "168 backtest rows" in item.detail
    assert item.facts is not None and item.facts["backtest_run"] == comparison["backtest_run"]
    message = outcome["message"]
    assert "720 labelled production rows: 168 newer than [retraining] evaluation_window = 7d" in (
        message
    )
    assert "refitted on all 720" in message and "backtest on 168" in message


def test_labelled_rows_all_inside_the_window_are_said_to_be_and_still_learned(
    dws: Workspace,
) -> None:
    traffic_start = START + timedelta(days=HISTORY_DAYS)
    traffic = hourly_demand(traffic_start, 3 * 24, shift_from=traffic_start)
    log_and_label(dws, traffic, "demand@1")

    trigger = dws.monitors.retrain("demand", reason="demand moved")

    assert trigger.status == "done", trigger.error
    message = trigger.outcome["message"]
    assert "all are younger than [retraining] evaluation_window = 7d" in message
    assert "shorten the window" in message
    candidate = dws.models.get(trigger.outcome["candidate"])
    assert dws.datasets.get(candidate.snapshot_ref).rows == 1440 + 72


def test_too_few_window_rows_train_on_everything_without_refit_and_say_so(
    demand_dir: Path,
) -> None:
    set_tables(
        demand_dir,
        {"retraining": {"automatic": False, "evaluation_window": "7d", "min_evaluation_rows": 500}},
    )
    with Workspace.open(demand_dir) as ws:
        traffic_start = START + timedelta(days=HISTORY_DAYS)
        log_and_label(ws, hourly_demand(traffic_start, 10 * 24, shift_from=None), "demand@1")
        trigger = ws.monitors.retrain("demand", reason="refresh")
        candidate = ws.models.get(trigger.outcome["candidate"])
        run = ws.runs.get(candidate.run_id)
    assert trigger.status == "done", trigger.error
    assert "backtest" not in trigger.outcome["steps"]
    assert not run.spec.split.refit  # judged on its own evaluation rows instead
    assert "[retraining] min_evaluation_rows = 500" in trigger.outcome["message"]
    assert trigger.outcome["production_rows"] == 240


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
def test_a_candidate_the_backtest_finds_worse_is_refused_until_an_admin_overrides(
    monitored_dir: Path, data: pd.DataFrame
) -> None:
    set_tables(
        monitored_dir,
        {
            "retraining": {
                "automatic": False,
                "evaluation_window": "20d",
                "min_evaluation_rows": 50,
                "auto_canary": True,
                "auto_promote": True,
            }
        },
    )
    with Workspace.open(monitored_dir) as ws:
        ingest_labels(ws, data, NOW)
        trigger = ws.monitors.retrain(ENDPOINT, reason="new lending policy from July")
        candidate = trigger.outcome["candidate"]
        comparison = trigger.outcome["comparison"]
        checklist = ws.models.checklist(candidate)
        with pytest.raises(GateFailed, match="champion_challenger"):
            ws.models.promote(candidate, to="production", reason="looks fine")
        policy = ws.endpoints.get(ENDPOINT).policy
    # Worse on recent traffic: the gate says so, and nothing was deployed or promoted.
    assert comparison["challenger_value"] < comparison["champion_value"]
    assert comparison["advantage"] < -0.01
    assert checklist.blocking and [i.key for i in checklist.blocking] == ["champion_challenger"]
    assert "backtest rows" in checklist.blocking[0].detail
    assert trigger.outcome["canary"] is None and policy.canary is None
    assert policy.production == "credit@1"
    assert "promote" not in trigger.outcome["steps"] or trigger.outcome.get("promoted") is None

    with Workspace.open(monitored_dir, actor="demo-lead") as ws:
        move = ws.models.promote(
            candidate, to="production", override=True, reason="new policy; accepted risk"
        )
        [event] = [
            e
            for e in ws.audit.events(action="model.promote", subject=f"model:{candidate}")
            if e.action == "model.promote" and e.reason == "new policy; accepted risk"
        ]
        card = ws.models.card(candidate)
    assert move.version.stage == "production"
    assert move.change.overridden == ["champion_challenger"]
    assert event.actor == "demo-lead" and event.details["override"] is True
    assert "new policy; accepted risk" in card.to_markdown()
