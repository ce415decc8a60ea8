"""``STEAD_REGISTRY_*`` and ``STEAD_CHECKLIST_*`` override stead.toml, and the checklist's
``monitoring_hooks`` item sees ``STEAD_MONITORING_*`` and ``STEAD_ALERTS_SINKS``."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import GateFailed, SettingsError
from stead.core.settings import settings_from_mapping
from stead.registry.checklist import ChecklistItem
from stead.registry.settings import checklist_settings, registry_settings
from stead.workspace import Workspace
from tests.training.projects import set_tables

from .governed import Runs, ready


def test_a_checklist_variable_moves_the_gate(
    reg_dir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAD_CHECKLIST_BASELINE_MARGIN", "0.9")
    with Workspace.open(reg_dir) as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
        with pytest.raises(GateFailed) as failed:
            ws.models.promote(ref, to="production")
    assert "does not beat the baseline by the margin 0.9" in failed.value.message


def test_a_registry_variable_overrides_the_file(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"registry": {"replaced_production_to": "staging"}})
    env = {"STEAD_REGISTRY_REPLACED_PRODUCTION_TO": "retired"}
    assert registry_settings(settings, env=env).replaced_production_to == "retired"
    assert registry_settings(settings, env={}).replaced_production_to == "staging"


def test_wrong_variables_are_named_with_their_value_and_what_is_allowed(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {})
    with pytest.raises(SettingsError) as caught:
        registry_settings(settings, env={"STEAD_REGISTRY_REPLACED_PRODUCTION_TO": "archive"})
    assert caught.value.message == (
        "STEAD_REGISTRY_REPLACED_PRODUCTION_TO = 'archive' is not allowed; "
        "expected one of 'staging', 'retired'"
    )
    with pytest.raises(SettingsError) as caught:
        checklist_settings(settings, env={"STEAD_CHECKLIST_CHAMPION_TOLERANCE": "-0.1"})
    message = caught.value.message
    assert "[checklist] (with STEAD_CHECKLIST_CHAMPION_TOLERANCE from the environment)" in message
    assert "champion_tolerance = -0.1 is not allowed; expected at least 0.0" in message


def test_the_monitoring_item_follows_stead_monitoring_enabled(
    reg_dir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Workspace.open(reg_dir) as ws:
        ref = ready(ws, runs.good)
    monkeypatch.setenv("STEAD_MONITORING_ENABLED", "false")
    with Workspace.open(reg_dir) as ws, pytest.raises(GateFailed) as failed:
        ws.models.promote(ref, to="production")
    assert set(failed.value.details["failing"]) == {"monitoring_hooks"}
    assert "[monitoring] enabled = false (set by STEAD_MONITORING_ENABLED)" in (
        failed.value.message
    )
    monkeypatch.delenv("STEAD_MONITORING_ENABLED")
    with Workspace.open(reg_dir) as ws:
        assert ws.models.promote(ref, to="production").version.stage == "production"


def test_the_monitoring_item_follows_stead_alerts_sinks(
    reg_dir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tables(reg_dir, {"alerts": None})
    with Workspace.open(reg_dir) as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
        item = _item(ws, ref, "monitoring_hooks")
        assert item.status == "fail" and "no alert sink" in item.detail
        monkeypatch.setenv("STEAD_ALERTS_SINKS", '["stdout", "log"]')
        item = _item(ws, ref, "monitoring_hooks")
        assert item.status == "pass"
        assert "2 alert sink(s) configured (set by STEAD_ALERTS_SINKS)" in item.detail
    set_tables(reg_dir, {"alerts": {"sinks": ["log"]}})
    monkeypatch.setenv("STEAD_ALERTS_SINKS", "[]")
    with Workspace.open(reg_dir) as ws:
        item = _item(ws, ref, "monitoring_hooks")
    assert item.status == "fail"
    assert "(at least one) (set by STEAD_ALERTS_SINKS)" in item.detail


def test_a_monitoring_variable_alone_makes_the_table_present(
    reg_dir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tables(reg_dir, {"monitoring": None})
    with Workspace.open(reg_dir) as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
        assert "no [monitoring] table" in _item(ws, ref, "monitoring_hooks").detail
        monkeypatch.setenv("STEAD_MONITORING_ENABLED", "true")
        assert _item(ws, ref, "monitoring_hooks").status == "pass"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "STEAD_MONITORING_ENABLED",
            "off",
            "STEAD_MONITORING_ENABLED = 'off' is not allowed; expected true or false",
        ),
        (
            "STEAD_ALERTS_SINKS",
            '["pager"]',
            "[alerts] (with STEAD_ALERTS_SINKS from the environment) sinks[0] = 'pager' "
            "is not a sink",
        ),
    ],
)
def test_the_checklist_names_a_wrong_monitoring_variable(
    reg_dir: Path,
    runs: Runs,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    with Workspace.open(reg_dir) as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
        # Set after the workspace opened (whose checks would refuse it): the gate reads
        # the environment when it runs, and must not read a bad value as "configured".
        monkeypatch.setenv(variable, value)
        with pytest.raises(SettingsError) as caught:
            ws.models.checklist(ref)
    assert message in caught.value.message


def _item(ws: Workspace, ref: str, key: str) -> ChecklistItem:
    return next(i for i in ws.models.checklist(ref).items if i.key == key)
