"""``stead monitor``, ``stead alerts``, ``stead retrain``, ``stead retention`` and
``stead rollback --drill`` as a user runs them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import Cli, run_stead
from tests.monitoring.monitored import ENDPOINT
from tests.monitoring.test_drill import second_version
from tests.training.projects import set_tables


@pytest.fixture
def mcli(monitored_dir: Path) -> Cli:
    return Cli(monitored_dir)


def test_monitor_run_then_show_then_report(mcli: Cli, monitored_dir: Path) -> None:
    _, out, _ = mcli("monitor", "run", ENDPOINT)
    assert "credit: evaluated 18 new 150 window(s)" in out
    assert "evidence recorded: credit@1: drift_detection" in out
    assert "income" in out and "channel" in out
    _, again, _ = mcli("monitor", "run", ENDPOINT, "--json")
    assert json.loads(again)["windows"] == []
    _, shown, _ = mcli("monitor", "show", ENDPOINT, "--last", "3")
    assert "window 150#17" in shown and "trend: last 3 window(s)" in shown
    assert "data drift" in shown and "performance (estimated)" in shown
    _, state, _ = mcli("monitor", "show", ENDPOINT, "--json")
    assert json.loads(state)["latest"]["window"] == "150#17"
    _, wrote, _ = mcli("monitor", "report", ENDPOINT, "--out", "out/report.html")
    assert "wrote out/report.html" in wrote
    assert (monitored_dir / "out" / "report.html").read_text().startswith("<!doctype html>")


@pytest.mark.slow  # waits between runs; the --json watch test covers the loop
def test_monitor_watch_stops_after_its_iterations(mcli: Cli) -> None:
    _, out, _ = mcli("monitor", "watch", ENDPOINT, "--every", "1s", "--iterations", "2")
    assert "evaluated 18 new" in out and "evaluated 0 new" in out
    assert "stopped after 2 run(s)" in out


def test_alerts_test_exits_non_zero_when_a_sink_fails(mcli: Cli, monitored_dir: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    set_tables(
        monitored_dir,
        {
            "alerts": {
                "sinks": [
                    {"type": "file", "path": "alerts.jsonl"},
                    {"type": "webhook", "url": f"http://127.0.0.1:{closed}/x", "retries": 0},
                ]
            }
        },
    )
    _, out, _ = mcli("alerts", "test", ENDPOINT, expect=1)
    assert "webhook" in out and "no" in out and "ConnectError" in out
    assert "alerts_tested evidence recorded for credit@1" in out
    set_tables(monitored_dir, {"alerts": {"sinks": [{"type": "file", "path": "alerts.jsonl"}]}})
    _, ok, _ = mcli("alerts", "test", "--json")
    assert json.loads(ok)["ok"] is True
    _, listed, _ = mcli("alerts", "list", ENDPOINT)
    assert "Test alert from stead for credit" in listed


def test_retrain_needs_one_cause_and_reports_the_trigger(mcli: Cli) -> None:
    _, _, err = mcli("retrain", ENDPOINT, expect=2)
    assert "give one of --reason" in err
    _, out, _ = mcli("retrain", ENDPOINT, "--reason", "new lending policy")
    assert "retrain trigger trg" in out and "(manual, no_change)" in out
    _, _, err = mcli("retrain", ENDPOINT, "--pending", expect=3)
    assert "no pending retrain trigger" in err


def test_retention_apply_dry_run(mcli: Cli, monitored_dir: Path) -> None:
    set_tables(monitored_dir, {"retention": {"predictions": "30d"}})
    _, out, _ = mcli("retention", "apply", "--dry-run", "--json")
    plan = json.loads(out)
    assert plan["dry_run"] is True and plan["prediction_rows"] > 0
    _, applied, _ = mcli("retention", "apply")
    assert f"deleted {plan['prediction_rows']} prediction(s)" in applied
    assert "audited as ev" in applied


def test_rollback_drill(mcli: Cli, monitored_dir: Path) -> None:
    ref = second_version(monitored_dir)
    _, out, _ = mcli("rollback", ENDPOINT, "--drill")
    assert "rollback drill on credit passed" in out
    assert f"rollback_verified evidence recorded for {ref}" in out


@pytest.mark.slow  # a real process end to end; in-process tests cover the logic
def test_monitor_run_as_a_real_process(monitored_dir: Path) -> None:
    done = run_stead("monitor", "run", ENDPOINT, "--window", "7d", "--json", cwd=monitored_dir)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["spec"] == "7d" and len(run["windows"]) == 38
    bad = run_stead("monitor", "run", ENDPOINT, "--window", "7m", cwd=monitored_dir)
    assert bad.returncode == 2 and "divide a day evenly" in bad.stderr


def test_monitor_watch_json_streams_one_line_per_window(mcli: Cli) -> None:
    _, out, err = mcli("monitor", "watch", ENDPOINT, "--every", "1s", "--iterations", "2", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    # 18 windows in the first run, none new in the second; people's lines go to stderr.
    assert len(lines) == 18
    assert {(w["run"], w["endpoint"], w["spec"]) for w in lines} == {(1, ENDPOINT, "150")}
    assert [w["window"]["key"] for w in lines[:2]] == ["150#0", "150#1"]
    assert all(w["results"] and "decisions" in w for w in lines)
    assert "stopped after 2 run(s)" in err and "stopped" not in out
