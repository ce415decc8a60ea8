"""Monitors on a served endpoint with drifted traffic and delayed labels."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from stead.monitoring.monitor_run import MonitorRun
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT, NOW, START, ingest_labels, log_traffic
from tests.stores import ON_BOTH_STORES

DRIFT_STARTS = START + timedelta(days=180)


def _by_month(run: MonitorRun, signal: str) -> tuple[list[dict], list[dict]]:
    stable: list[dict] = []
    drifted: list[dict] = []
    for outcome in run.windows:
        result = next(r for r in outcome.results if r.signal == signal)
        # A window that starts in month 7 or later holds drifted traffic only.
        (drifted if outcome.window.start >= DRIFT_STARTS else stable).append(result.summary)
    return stable, drifted


def test_the_monitor_flags_the_drifted_features_and_never_in_the_stable_months(
    mws: Workspace,
) -> None:
    run = mws.monitors.run(ENDPOINT)
    assert len(run.windows) == 18  # 2,700 answered predictions in windows of 150
    stable, drifted = _by_month(run, "data_drift")
    assert drifted and all({"income", "channel"} <= set(s["drifted"]) for s in drifted)
    assert not any({"income", "channel"} & set(s["drifted"]) for s in stable)
    # The new "mobile" channel shows as categories the model never saw.
    assert all(s["scores"]["channel"]["unseen_rate"] > 0.15 for s in drifted)


@ON_BOTH_STORES
def test_drift_raises_an_investigate_alert_naming_features_and_statistics(
    mws: Workspace, monitored_dir: Path
) -> None:
    run = mws.monitors.run(ENDPOINT)
    drifted = {w.window.key for w in run.windows if w.window.start >= DRIFT_STARTS}
    investigate = [a for a in run.alerts if a.signal == "investigate" and a.window_key in drifted]
    assert len(investigate) == len(drifted)
    assert all(
        "income (psi" in a.message and "channel (js_distance" in a.message for a in investigate
    )
    sent = (monitored_dir / "alerts.jsonl").read_text().splitlines()
    assert len(sent) == len(run.alerts)
    # Drift alone never retrains.
    assert run.triggers == []
    assert not [d for d in mws.monitors.decisions(ENDPOINT) if d.kind == "retrain"]


@ON_BOTH_STORES
def test_a_window_is_evaluated_once_and_alerts_are_not_repeated_unless_forced(
    mws: Workspace, monitored_dir: Path
) -> None:
    first = mws.monitors.run(ENDPOINT)
    again = mws.monitors.run(ENDPOINT)
    assert again.windows == [] and "evaluated 0 new" in again.message
    forced = mws.monitors.run(ENDPOINT, force=True)
    assert len(forced.windows) == len(first.windows)
    assert forced.alerts == []  # the same window's alert was sent already
    assert len((monitored_dir / "alerts.jsonl").read_text().splitlines()) == len(first.alerts)
    newest = mws.monitors.state(ENDPOINT).latest
    assert newest is not None and newest.results["data_drift"].id in {
        r.id for w in forced.windows for r in w.results
    }


def test_new_traffic_is_evaluated_from_its_own_window_only(
    mws: Workspace, data: pd.DataFrame
) -> None:
    mws.monitors.run(ENDPOINT)
    later = data.tail(150).copy()
    later["application_id"] = "late-" + later["application_id"]
    last = data["applied_at"].max()
    later["applied_at"] = [last + timedelta(minutes=1 + i) for i in range(len(later))]
    log_traffic(mws, later)
    run = mws.monitors.run(ENDPOINT)
    assert [w.window.index for w in run.windows] == [18]


def test_time_windows_are_aligned_to_the_clock_and_only_complete_ones_are_evaluated(
    mws: Workspace, monkeypatch: object
) -> None:
    run = mws.monitors.run(ENDPOINT, window="7d", since=START, until=START + timedelta(days=30))
    keys = [w.window.key for w in run.windows]
    assert keys and all(k.startswith("7d@") and k.endswith("T00:00:00Z") for k in keys)
    assert all(w.window.end <= START + timedelta(days=30) for w in run.windows)
    assert all((w.window.end - w.window.start) == timedelta(days=7) for w in run.windows)


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
@ON_BOTH_STORES
def test_measured_performance_waits_for_labels_then_shows_the_decay(
    mws: Workspace, data: pd.DataFrame
) -> None:
    before = mws.monitors.run(ENDPOINT)
    waiting = {
        w.window.index: r.status
        for w in before.windows
        for r in w.results
        if r.signal == "performance"
    }
    # Recent windows wait for labels; those older than [monitoring] label_horizon (120d)
    # are final without them.
    assert all(waiting[i] == "awaiting_labels" for i in range(10, 18))
    assert set(waiting.values()) == {"awaiting_labels", "insufficient_data"}

    ingest_labels(mws, data, NOW)
    after = mws.monitors.run(ENDPOINT)
    rechecked = [w for w in after.windows if w.recheck]
    assert rechecked and not [w for w in after.windows if not w.recheck]
    performance = {
        w.window.index or 0: next(r for r in w.results if r.signal == "performance")
        for w in rechecked
    }
    stable = [r for i, r in performance.items() if i < 12 and r.status in ("ok", "alert")]
    drifted = [r for i, r in performance.items() if i >= 12 and r.status in ("ok", "alert")]
    assert stable and all(r.status == "ok" for r in stable)
    assert drifted and all(r.summary["below"] for r in drifted)
    assert all(r.summary["training"] - r.summary["value"] > 0.05 for r in drifted)
    # Drift and a measured drop → retrain; and two windows below in a row → sustained decay.
    kinds = {t.kind for t in mws.monitors.triggers(ENDPOINT)}
    assert kinds == {"drift_and_drop"}  # decay in the same windows is within the cooldown
    retrain = [d for d in mws.monitors.decisions(ENDPOINT) if d.kind == "retrain"]
    assert retrain and retrain[-1].evidence["performance"]["source"] == "measured"
    assert "income" in retrain[-1].evidence["drift"]["features"]


def test_performance_is_estimated_from_probabilities_before_labels(mws: Workspace) -> None:
    run = mws.monitors.run(ENDPOINT)
    estimates = [r for w in run.windows for r in w.results if r.signal == "estimated_performance"]
    assert estimates and all(r.summary["metric"] == "roc_auc" for r in estimates)
    assert all(r.summary["calibrated"] and 0.5 < r.summary["estimate"] <= 1.0 for r in estimates)
    assert all(r.summary["low"] < r.summary["estimate"] < r.summary["high"] for r in estimates)


@pytest.mark.slow  # end to end over months of traffic or two trainings; CI runs it
def test_monitoring_records_checklist_evidence_on_the_production_version(
    mws: Workspace, data: pd.DataFrame
) -> None:
    run = mws.monitors.run(ENDPOINT)
    assert run.evidence == ["credit@1: drift_detection"]
    ingest_labels(mws, data, NOW)
    mws.monitors.run(ENDPOINT)
    after = {i.key: i for i in mws.models.checklist("credit@1").after}
    assert after["drift_detection"].status == "pass"
    assert after["performance_logged"].status == "pass"
    assert "measured roc_auc" in after["performance_logged"].detail


def test_schema_changes_from_logged_requests(mws: Workspace, data: pd.DataFrame) -> None:
    odd = data.tail(150).copy()
    odd["application_id"] = "odd-" + odd["application_id"]
    odd["applied_at"] = NOW - timedelta(days=2)
    log_traffic(mws, odd, inputs={"age": None, "referrer": "partner-x"})
    run = mws.monitors.run(ENDPOINT, window="1d", since=NOW - timedelta(days=2))
    schema = next(r for r in run.windows[-1].results if r.signal == "schema")
    assert schema.status == "alert"
    assert schema.summary["missing_fields"] == ["age"]
    assert schema.summary["new_fields"] == ["referrer"]
    assert schema.summary["rejected"] == 0


def test_requests_refused_at_the_edge_count_in_the_schema_but_not_in_drift(
    mws: Workspace, data: pd.DataFrame
) -> None:
    day = data.tail(150).copy()
    day["applied_at"] = NOW - timedelta(days=2)
    answered = day.iloc[:100].copy()
    refused = day.iloc[100:].copy()
    refused["application_id"] = "refused-" + refused["application_id"]
    log_traffic(mws, answered)
    log_traffic(
        mws,
        refused,
        role="rejected",
        outputs={},
        inputs={"age": "unknown"},
        error="contract_violation: field 'age' expected numbers",
    )
    run = mws.monitors.run(ENDPOINT, window="1d", since=NOW - timedelta(days=2))
    results = {r.signal: r for r in run.windows[-1].results}
    schema = results["schema"]
    assert schema.summary["rejected"] == 50
    assert schema.summary["rejected_reasons"] == {"contract_violation": 50}
    # The refused ones are counted, not checked: the accepted traffic has no type change.
    assert schema.summary["rows"] == 100
    assert schema.summary["type_changes"] == []
    assert "50 refused at the edge" in schema.message
    assert results["system"].summary["refused"] == 50
    assert results["data_drift"].rows == 100  # the model never saw the refused ones


def test_a_malformed_request_in_a_drifted_window_neither_hides_the_drift_nor_widens_the_log(
    mws: Workspace, data: pd.DataFrame
) -> None:
    day = data.tail(400).copy()
    day["applied_at"] = NOW - timedelta(days=2)
    day["income"] = day["income"] * 1.6  # a real shift of one input
    log_traffic(mws, day)
    bad = day.head(1).copy()
    bad["application_id"] = "bad-" + bad["application_id"]
    extra = {f"junk{i}": i for i in range(50_000)}
    log_traffic(
        mws,
        bad,
        role="rejected",
        outputs={},
        inputs={"income": "lots", **extra},
        error="contract_violation: field 'income' expected numbers",
    )
    run = mws.monitors.run(ENDPOINT, window="1d", since=NOW - timedelta(days=2))
    results = {r.signal: r for r in run.windows[-1].results}

    drift = results["data_drift"]
    assert "income" in drift.summary["drifted"]
    inputs = len(mws.models.get("credit@1").input_columns)
    assert drift.summary["checked"] == drift.summary["inputs"] == inputs
    assert results["schema"].summary["type_changes"] == []
    assert results["schema"].summary["rejected"] == 1
    # The refused request is one bounded text, not 50,000 input columns.
    table = mws.predictions.read(ENDPOINT, columns=None)
    assert len(table.columns) < 60
    refused = table[table["role"] == "rejected"]["refused_inputs"].iloc[0]
    assert len(refused) < 4_200 and "characters in all" in refused


def test_system_signal_counts_errors_fallbacks_and_shadow_disagreement(
    mws: Workspace, data: pd.DataFrame
) -> None:
    day = data.tail(120).copy()
    day["applied_at"] = NOW - timedelta(hours=44)
    for tag, role, error, outputs in (
        ("a", "production", None, None),
        ("b", "shadow", None, {"prediction": 1, "agrees": False}),
    ):
        part = day.copy()
        part["application_id"] = f"{tag}-" + part["application_id"]
        log_traffic(mws, part, role=role, error=error, outputs=outputs)
    failed = day.head(30).copy()
    failed["application_id"] = "c-" + failed["application_id"]
    log_traffic(mws, failed, error="credit@1 raised ValueError", outputs={})
    log_traffic(mws, failed, role="fallback", model="credit@1")
    run = mws.monitors.run(ENDPOINT, window="1d", since=NOW - timedelta(days=2))
    system = next(r for r in run.windows[-1].results if r.signal == "system")
    assert system.status == "alert"
    assert system.summary["requests"] == 150
    assert system.summary["error_rate"] == 30 / 150
    assert system.summary["fallback_rate"] == 30 / 150
    assert system.summary["shadow_disagreement"] == 1.0
    assert set(system.summary["breaches"]) == {"error_rate", "fallback_rate", "shadow_disagreement"}
    assert any(a.signal == "system" and a.severity == "critical" for a in run.alerts)
