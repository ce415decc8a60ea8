"""A retrain trains the production run's recorded spec, not whatever stead.toml says now,
unless asked to; either way the trigger records which spec it used and how they differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.conftest import Cli
from tests.monitoring.monitored import ENDPOINT


@pytest.fixture
def edited_dir(monitored_dir: Path) -> Path:
    """The monitored workspace after someone changed [training] params since credit@1."""
    path = monitored_dir / "stead.toml"
    text = path.read_text()
    assert "max_iter = 30" in text
    path.write_text(text.replace("max_iter = 30", "max_iter = 12"))
    return monitored_dir


def test_retraining_uses_the_production_runs_spec_and_warns_that_toml_differs(
    edited_dir: Path,
) -> None:
    with Workspace.open(edited_dir) as ws:
        trigger = ws.monitors.retrain(ENDPOINT, reason="refresh")
        production_run = ws.models.get("credit@1").run_id
        versions = [v.ref for v in ws.models.list("credit")]
        spec_event = ws.audit.events(action="retrain.spec")[-1]

    # Same data, production's spec: the production run itself, nothing to deploy. With
    # today's [training] it would have been a different model.
    assert trigger.status == "no_change", trigger.error
    assert versions == ["credit@1"]
    spec = trigger.outcome["spec"]
    assert spec["used"] == "production" and spec["production_run"] == production_run
    assert spec["differs"] is True
    assert spec["differences"]["params"]["production"]["max_iter"] == 30
    assert spec["differences"]["params"]["current"]["max_iter"] == 12
    assert trigger.evidence["spec"]["used"] == "production"
    [warning] = trigger.evidence["warnings"]
    assert "stead.toml [training] differs" in warning and "--current-spec" in warning
    assert spec_event.subject == f"trigger:{trigger.id}"


def test_the_current_spec_is_an_explicit_choice_and_is_recorded(edited_dir: Path) -> None:
    with Workspace.open(edited_dir) as ws:
        trigger = ws.monitors.retrain(ENDPOINT, reason="try the new params", spec="current")
        candidate = ws.models.get(trigger.outcome["candidate"])
        run = ws.runs.get(candidate.run_id)

    assert trigger.status == "done", trigger.error
    assert run.spec.params["max_iter"] == 12
    assert trigger.outcome["spec"]["used"] == "current"
    assert "differs from the spec of production run" in trigger.evidence["warnings"][0]
    assert "with the current [training] spec (differs from production run" in (
        candidate.description or ""
    )


def test_no_warning_when_the_specs_agree(monitored_dir: Path) -> None:
    with Workspace.open(monitored_dir) as ws:
        trigger = ws.monitors.retrain(ENDPOINT, reason="refresh")
    assert trigger.outcome["spec"]["differs"] is False
    assert trigger.outcome["spec"]["warning"] is None
    assert "warnings" not in trigger.evidence


def test_the_cli_flag_picks_the_current_spec(edited_dir: Path) -> None:
    cli = Cli(edited_dir)
    _, out, _ = cli("retrain", ENDPOINT, "--reason", "refresh")
    assert "(manual, no_change)" in out and "warning: stead.toml [training] differs" in out
    _, out, _ = cli("retrain", ENDPOINT, "--reason", "new params", "--current-spec")
    assert "(manual, done)" in out and "retrained with the current [training] spec" in out


def test_the_cli_prints_every_warning_of_the_trigger(edited_dir: Path) -> None:
    features = edited_dir / "features.py"
    features.write_text(features.read_text() + "\n# reviewed again after credit@1\n")
    _, out, _ = Cli(edited_dir)("retrain", ENDPOINT, "--reason", "refresh")
    text = " ".join(out.split())  # long warnings wrap

    assert "(manual, done)" in text
    assert text.count("warning: ") == 2
    assert "warning: stead.toml [training] differs" in text
    assert "warning: retrained with the workspace's code, which differs" in text
    assert "features.py" in text


def test_a_retrain_whose_code_differs_from_productions_carries_a_warning(
    monitored_dir: Path,
) -> None:
    features = monitored_dir / "features.py"
    features.write_text(features.read_text() + "\n# reviewed again after credit@1\n")
    with Workspace.open(monitored_dir) as ws:
        trigger = ws.monitors.retrain(ENDPOINT, reason="refresh")
        production = ws.runs.get(ws.models.get("credit@1").run_id)
        candidate = ws.runs.get(ws.models.get(trigger.outcome["candidate"]).run_id)
        train_event = ws.audit.events(action="retrain.train")[-1]

    # The spec is production's; the code is today's workspace, so the model is new.
    assert trigger.status == "done", trigger.error
    assert trigger.outcome["spec"]["differs"] is False
    assert candidate.spec.result_inputs() == production.spec.result_inputs()
    [warning] = trigger.evidence["warnings"]
    assert f"differs from the code of production run {production.id}" in warning
    assert "features.py" in warning
    assert trigger.outcome["code_differs"] is True and trigger.outcome["code_warning"] == warning
    assert train_event.details["code_differs"] is True
