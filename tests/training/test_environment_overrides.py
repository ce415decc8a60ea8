"""``STEAD_PROJECT_*``, ``STEAD_FEATURES_*`` and ``STEAD_TRAINING_*`` override stead.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.features.service import feature_settings
from stead.training.settings import stage_settings
from stead.workspace import Workspace

from .projects import write_project


def test_variables_override_training_and_project_keys(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(ws_dir)
    monkeypatch.setenv("STEAD_TRAINING_SEED", "11")
    monkeypatch.setenv("STEAD_TRAINING_SPLIT_EVAL_FRACTION", "0.3")
    monkeypatch.setenv("STEAD_TRAINING_METRICS", '["accuracy"]')
    monkeypatch.setenv("STEAD_PROJECT_OWNER", "ml-platform")
    monkeypatch.setenv("STEAD_FEATURES_PARAMS", "{ scale = false }")
    with Workspace.open(ws_dir) as ws:
        stage = stage_settings(ws.settings)
        features = feature_settings(ws.settings)
    assert stage.training is not None and stage.project is not None and features is not None
    assert stage.training.seed == 11
    assert stage.training.split.eval_fraction == 0.3
    assert stage.training.metrics == ["accuracy"]
    # Keys no variable names keep their file values.
    assert stage.training.params == {"max_iter": 20}
    assert stage.project.owner == "ml-platform"
    assert features.params == {"scale": False}


def test_a_wrong_variable_is_named_with_its_value_and_what_is_allowed(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(ws_dir)
    monkeypatch.setenv("STEAD_TRAINING_SPLIT_METHOD", "shuffle")
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    assert caught.value.message == (
        "STEAD_TRAINING_SPLIT_METHOD = 'shuffle' is not allowed; expected one of 'random', 'time'"
    )


def test_a_variable_checked_against_the_task_is_named(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(ws_dir)
    monkeypatch.setenv("STEAD_TRAINING_METRICS", '["rmse"]')
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    assert "with STEAD_TRAINING_METRICS from the environment" in caught.value.message
    assert "rmse" in caught.value.message


def test_absent_tables_stay_unconfigured_when_no_variable_targets_them(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAD_SERVING_PORT", "9000")
    with Workspace.open(ws_dir) as ws:
        stage = stage_settings(ws.settings)
        assert feature_settings(ws.settings) is None
    assert stage.project is None and stage.training is None


def test_a_lone_variable_configures_its_table_and_says_what_is_missing(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAD_TRAINING_SEED", "3")
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    message = caught.value.message
    assert "[training] (with STEAD_TRAINING_SEED from the environment)" in message
    assert "missing key 'snapshot'" in message


def test_a_variable_that_names_no_setting_is_reported_when_the_workspace_opens(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAD_SERVING_MAX_RECORD", "5")  # the key is max_records
    monkeypatch.setenv("STEAD_SERVING_LOG_MODE", "sync")  # a real (nested) setting
    monkeypatch.setenv("STEAD_TEAMS_RISK", "alice")  # [teams] is file-only
    monkeypatch.setenv("STEAD_ACTOR", "alice")  # not a setting at all
    with Workspace.open(ws_dir) as ws:
        notices = ws.notices
    assert notices == [
        "STEAD_SERVING_MAX_RECORD is ignored: it names no setting of [serving]; did you "
        "mean STEAD_SERVING_MAX_RECORDS?",
        "STEAD_TEAMS_RISK is ignored: [teams] is read from stead.toml only (its tables are "
        "named by you, so a variable cannot spell them)",
    ]


def test_a_table_variable_may_be_json_as_well_as_toml(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(ws_dir)
    monkeypatch.setenv("STEAD_TRAINING_PARAMS", '{"max_iter": 50, "early_stopping": false}')
    with Workspace.open(ws_dir) as ws:
        training = stage_settings(ws.settings).training
    assert training is not None
    assert training.params == {"max_iter": 50, "early_stopping": False}


def test_a_table_variable_that_is_neither_toml_nor_json_says_how_to_write_it(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(ws_dir)
    monkeypatch.setenv("STEAD_TRAINING_PARAMS", "{max_iter: 50}")
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    message = caught.value.message
    assert message.startswith("STEAD_TRAINING_PARAMS='{max_iter: 50}' is neither a TOML value")
    assert '{max_iter = 200} or {"max_iter": 200}' in message
