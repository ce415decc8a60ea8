"""``STEAD_REGISTRY_*`` and ``STEAD_CHECKLIST_*`` override stead.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import GateFailed, SettingsError
from stead.core.settings import settings_from_mapping
from stead.registry.settings import checklist_settings, registry_settings
from stead.workspace import Workspace

from .governed import Runs


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
