"""``STEAD_MONITORING_*``, ``STEAD_POLICY_*``, ``STEAD_RETRAINING_*`` and
``STEAD_ALERTS_SINKS`` override stead.toml; ``[kpis.NAME]`` tables are file-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.core.settings import settings_from_mapping
from stead.monitoring.settings import monitor_config
from stead.monitoring.sinks import build_sinks
from stead.workspace import Workspace
from tests.training.projects import set_tables


def test_variables_override_monitoring_policy_and_retraining(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tables(ws_dir, {"monitoring": {"window": "1h", "drift": {"psi": 0.25}}})
    monkeypatch.setenv("STEAD_MONITORING_WINDOW", "1d")
    monkeypatch.setenv("STEAD_MONITORING_DRIFT_WASSERSTEIN", "0.3")
    monkeypatch.setenv("STEAD_MONITORING_PERFORMANCE_MIN_LABELS", "50")
    monkeypatch.setenv("STEAD_POLICY_DECAY_WINDOWS", "5")
    monkeypatch.setenv("STEAD_RETRAINING_AUTO_PROMOTE", "true")
    with Workspace.open(ws_dir) as ws:
        config = monitor_config(ws.settings)
    assert config.monitoring.window == "1d"
    assert (config.monitoring.drift.psi, config.monitoring.drift.wasserstein) == (0.25, 0.3)
    assert config.monitoring.performance.min_labels == 50
    assert config.policy.decay_windows == 5
    assert config.retraining.auto_promote is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "STEAD_MONITORING_DRIFT_PSI",
            "high",
            "STEAD_MONITORING_DRIFT_PSI = 'high' is not allowed; expected a number",
        ),
        (
            "STEAD_POLICY_INVESTIGATE_ON_DRIFT",
            "yes",
            "STEAD_POLICY_INVESTIGATE_ON_DRIFT = 'yes' is not allowed; expected true or false",
        ),
        (
            "STEAD_RETRAINING_CANARY_SHARE",
            "0",
            "[retraining] (with STEAD_RETRAINING_CANARY_SHARE from the environment): "
            "canary_share = 0.0 is not allowed; expected (0, 100]",
        ),
        (
            "STEAD_ALERTS_SINKS",
            "stdout",
            "STEAD_ALERTS_SINKS = 'stdout' is not allowed; expected a list",
        ),
        (
            "STEAD_ALERTS_SINKS",
            '["pager"]',
            "[alerts] (with STEAD_ALERTS_SINKS from the environment) sinks[0] = 'pager' "
            "is not a sink",
        ),
    ],
)
def test_a_wrong_variable_fails_when_the_workspace_opens(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    assert message in caught.value.message


def test_the_sink_list_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_mapping(tmp_path, {"alerts": {"sinks": ["stdout", "log"]}})
    monkeypatch.setenv("STEAD_ALERTS_SINKS", '["log", { type = "file", path = "a.jsonl" }]')
    assert [s.name for s in build_sinks(settings)] == ["log", "file"]
    monkeypatch.delenv("STEAD_ALERTS_SINKS")
    assert [s.name for s in build_sinks(settings)] == ["stdout", "log"]


def test_kpi_tables_are_read_from_the_file_only(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"kpis": {"loss": {"aggregate": "sum"}}})
    config = monitor_config(settings, env={"STEAD_KPIS_LOSS_AGGREGATE": "mean"})
    assert config.kpis["loss"].aggregate == "sum"
