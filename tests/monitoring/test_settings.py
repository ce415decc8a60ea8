"""Monitoring settings: checked when the workspace opens, naming the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import SettingsError, UsageError
from stead.core.settings import settings_from_mapping
from stead.monitoring.settings import monitor_config
from stead.monitoring.sinks import build_sinks
from stead.predictions.windows import WindowSpec
from stead.workspace import Workspace
from tests.training.projects import set_tables


def test_defaults_come_from_the_playbook(tmp_path: Path) -> None:
    config = monitor_config(settings_from_mapping(tmp_path, {}))
    assert config.monitoring.window == "1d"
    assert (config.policy.revisit_after, config.policy.revisit_within) == (3, 5)
    assert config.policy.decay_windows == 3
    assert config.monitoring.performance.tolerance == 0.05
    assert config.retraining.auto_canary is False and config.retraining.auto_promote is False


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"monitoring": {"window": 5}}, "[monitoring] window = 5 is not allowed"),
        ({"monitoring": {"grace": "soon"}}, "grace 'soon' is not a duration"),
        ({"monitoring.drift": {"psi_threshold": 0.3}}, "unknown drift setting(s) psi_threshold"),
        ({"policy": {"revisit_after": 4, "revisit_within": 3}}, "expected at least revisit_after"),
        ({"kpis.loss": {"aggregate": "median"}}, "[kpis.loss] aggregate = 'median'"),
        ({"retraining": {"canary_share": 0.0}}, "canary_share = 0.0 is not allowed"),
        ({"retention": {"predictions": "forever"}}, "predictions 'forever' is not a duration"),
    ],
)
def test_a_wrong_setting_fails_when_the_workspace_opens(
    ws_dir: Path, tables: dict, message: str
) -> None:
    set_tables(ws_dir, tables)
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    assert message in caught.value.message


def test_sinks_by_name_by_url_and_as_tables(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        tmp_path,
        {
            "alerts": {
                "sinks": [
                    "stdout",
                    "log",  # as the registry's tests configure it
                    "https://hooks.example.com/a",
                    {"type": "jsonl", "path": "a.jsonl"},  # as the demo writes it
                    {"type": "webhook", "url": "http://127.0.0.1:9/b", "name": "pager"},
                ]
            }
        },
    )
    assert [s.name for s in build_sinks(settings)] == ["stdout", "log", "webhook", "file", "pager"]


def test_window_specs() -> None:
    assert WindowSpec.parse("1h").name == "1h" and WindowSpec.parse("7d").name == "7d"
    assert WindowSpec.parse("10000").size == 10_000
    for bad in ("7m", "25h", "0", "soon"):
        with pytest.raises(UsageError):
            WindowSpec.parse(bad)
