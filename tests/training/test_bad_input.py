"""Bad specs and data get a specific error before anything is trained or stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stead.core.errors import NotFound, SpecError
from stead.workspace import Workspace

from .projects import PROJECT, TRAINING, credit_frame, write_project


def assert_nothing_stored(ws: Workspace, events_before: int) -> None:
    assert ws.runs.list() == []
    assert ws.features.list() == []
    assert len(ws.audit.events()) == events_before


def train_expecting(ws_dir: Path, match: str, *, frame: Any = None, **project: Any) -> None:
    write_project(ws_dir, **project)
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame() if frame is None else frame, name="apps")
        before = len(ws.audit.events())
        with pytest.raises(SpecError, match=match):
            ws.runs.train()
        assert_nothing_stored(ws, before)


def test_a_feature_that_uses_a_missing_column_is_named(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        r"feature step 'num' uses column\(s\) 'salary' that snapshot apps@1 does not have",
        modules={"columns.py": 'NUMERIC = ["income", "salary"]\n'},
    )


def test_a_target_column_missing_from_the_data_is_named(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        "the target column 'defaulted' is not in snapshot apps@1",
        columns={"id": "customer_id", "target": "defaulted"},
    )


def test_a_target_with_one_class_is_refused(ws_dir: Path) -> None:
    frame = credit_frame()
    frame["default"] = 0
    train_expecting(ws_dir, r"target 'default' has one class \(0\)", frame=frame)


def test_an_estimator_path_that_does_not_import_is_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        r"\[training\] estimator = 'sklearn.ensemble.GradientBoosterX'.*has no 'GradientBoosterX'",
        training={**TRAINING, "estimator": "sklearn.ensemble.GradientBoosterX"},
    )
    train_expecting(
        ws_dir,
        "module 'xgboost_not_installed' does not import",
        training={**TRAINING, "estimator": "xgboost_not_installed:XGBClassifier"},
    )


def test_estimator_params_it_does_not_accept_are_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        r"does not accept params \['max_iters'\]",
        training={**TRAINING, "params": {"max_iters": 3}},
    )
    train_expecting(
        ws_dir,
        "learning_rate",
        training={**TRAINING, "params": {"learning_rate": -1.0}},
    )


def test_a_regressor_for_a_classification_task_is_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        "is a regressor but \\[project\\] task is binary",
        training={**TRAINING, "estimator": "sklearn.linear_model:Ridge", "params": {}},
    )


def test_a_feature_function_that_raises_is_named_with_its_error(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        r"'features:build' raised KeyError: 'no such region table'",
        modules={"features.py": "def build():\n    raise KeyError('no such region table')\n"},
    )


def test_a_feature_function_that_returns_no_transformer_is_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        "returned list, not a scikit-learn transformer",
        modules={"features.py": "def build():\n    return ['income', 'age']\n"},
    )


def test_a_feature_module_missing_from_the_workspace_is_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        "no module 'feats' in the workspace",
        features={"definition": "feats:build"},
    )


def test_a_feature_function_that_does_not_exist_is_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir, "module 'features' has no 'make'", features={"definition": "features:make"}
    )


def test_columns_selected_by_position_are_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        "selects columns by position",
        modules={
            "features.py": """\
                from sklearn.compose import ColumnTransformer
                from sklearn.preprocessing import StandardScaler


                def build():
                    return ColumnTransformer([("num", StandardScaler(), [1, 2])])
                """
        },
    )


def test_a_binary_task_with_three_classes_says_to_use_multiclass(ws_dir: Path) -> None:
    frame = credit_frame()
    frame["default"] = frame["customer_id"] % 3
    train_expecting(ws_dir, 'set \\[project\\] task = "multiclass"', frame=frame)


def test_a_snapshot_that_does_not_exist_is_not_found(ws_dir: Path) -> None:
    write_project(ws_dir, training={**TRAINING, "snapshot": "apps@4"})
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        with pytest.raises(NotFound, match="dataset apps has no version 4"):
            ws.runs.train()


def test_training_without_a_training_table_says_what_to_add(ws_dir: Path) -> None:
    write_project(ws_dir)
    text = (ws_dir / "stead.toml").read_text()
    (ws_dir / "stead.toml").write_text(text.split("\n[training]")[0])
    with Workspace.open(ws_dir) as ws, pytest.raises(SpecError, match="no \\[training\\] table"):
        ws.runs.train()


def test_a_regression_target_that_is_text_is_refused(ws_dir: Path) -> None:
    train_expecting(
        ws_dir,
        "not numeric",
        project={**PROJECT, "task": "regression"},
        columns={"id": "customer_id", "target": "region"},
        training={**TRAINING, "estimator": "sklearn.linear_model.Ridge", "params": {}},
        modules={"columns.py": 'NUMERIC = ["income", "age"]\n'},
    )
