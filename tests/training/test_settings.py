"""[project], [features] and [training] are validated when the workspace opens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stead.core.errors import SettingsError
from stead.training.project import resolve_project
from stead.workspace import Workspace

from .projects import PROJECT, TRAINING, set_tables, write_project


def open_fails(root: Path, match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        Workspace.open(root)


def with_project(root: Path, **changes: Any) -> None:
    write_project(root)
    project = {k: v for k, v in {**PROJECT, **changes}.items() if v is not None}
    set_tables(root, {"project": project})


def test_a_missing_project_key_is_named_with_what_it_should_hold(ws_dir: Path) -> None:
    with_project(ws_dir, owner=None)
    open_fails(ws_dir, r"\[project\]: missing key 'owner': the team or person accountable")


def test_an_unknown_task_lists_the_allowed_ones(ws_dir: Path) -> None:
    with_project(ws_dir, task="ranking")
    open_fails(ws_dir, r"task = 'ranking' is not allowed; expected one of 'binary'")


def test_assumptions_must_be_a_non_empty_list(ws_dir: Path) -> None:
    with_project(ws_dir, assumptions="one long sentence")
    open_fails(ws_dir, r"assumptions = 'one long sentence' is not allowed; expected a list")
    with_project(ws_dir, assumptions=[])
    open_fails(ws_dir, "assumptions must not be empty")


def test_an_unknown_project_key_is_refused(ws_dir: Path) -> None:
    with_project(ws_dir, ownr="typo")
    open_fails(ws_dir, r"unknown key 'ownr'; allowed keys: .*owner")


def test_project_and_columns_must_agree_on_the_target(ws_dir: Path) -> None:
    with_project(ws_dir, target="defaulted")
    open_fails(ws_dir, r"\[project\] target = 'defaulted' but \[columns\] target = 'default'")


def test_a_target_named_only_in_project_is_used(ws_dir: Path) -> None:
    write_project(ws_dir, columns={"id": "customer_id"}, project={**PROJECT, "target": "default"})
    with Workspace.open(ws_dir) as ws:
        project = resolve_project(ws.settings)
        assert project is not None
        assert (project.target, project.id, project.time) == ("default", "customer_id", None)


def test_a_project_without_any_target_is_refused(ws_dir: Path) -> None:
    write_project(ws_dir, columns={"id": "customer_id"})
    open_fails(ws_dir, "no target column; set \\[columns\\] target")


def test_a_metric_the_task_does_not_have_lists_the_allowed_ones(ws_dir: Path) -> None:
    write_project(ws_dir, training={**TRAINING, "metrics": ["roc_auc", "rmse"]})
    open_fails(ws_dir, r"metric 'rmse' is not available for a binary task; choose from .*roc_auc")


def test_split_and_leakage_settings_are_checked(ws_dir: Path) -> None:
    write_project(ws_dir, training={**TRAINING, "split": {"eval_fraction": 1.5}})
    open_fails(ws_dir, r"\[training\] split: eval_fraction = 1.5 is not allowed")
    write_project(ws_dir, training={**TRAINING, "split": {"method": "kfold"}})
    open_fails(ws_dir, r"method = 'kfold' is not allowed; expected one of 'random', 'time'")
    write_project(ws_dir, training={**TRAINING, "leakage": {"target": "ignore"}})
    open_fails(ws_dir, r"target = 'ignore' is not allowed; expected one of 'error', 'warn', 'off'")


def test_training_needs_an_estimator_and_a_features_table(ws_dir: Path) -> None:
    write_project(ws_dir, training={"snapshot": "apps"})
    open_fails(ws_dir, "missing key 'estimator'")
    write_project(ws_dir)
    text = (ws_dir / "stead.toml").read_text().replace("[features]", "[featurez]")
    (ws_dir / "stead.toml").write_text(text)
    open_fails(ws_dir, "unknown table \\[featurez\\]")


def test_a_feature_definition_must_be_an_import_path(ws_dir: Path) -> None:
    write_project(ws_dir, features={"definition": "features.py"})
    open_fails(ws_dir, r"\[features\]: definition = 'features.py' is not an import path")


def test_a_workspace_without_these_tables_still_opens(ws_dir: Path) -> None:
    with Workspace.open(ws_dir) as ws:
        assert resolve_project(ws.settings) is None
