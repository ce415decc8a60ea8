from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stead.features.leakage import (
    LeakageDetected,
    LeakageInputs,
    LeakageSettings,
    check_leakage,
    single_feature_score,
)
from stead.workspace import Workspace

from ..training.projects import PROJECT, TRAINING, credit_frame, write_project

WITH_LATE_FEES = {"columns.py": 'NUMERIC = ["income", "age", "late_fees"]\n'}


def leaky_frame(rows: int = 400) -> pd.DataFrame:
    frame = credit_frame(rows)
    # Late fees are charged only after a default: known after the outcome.
    frame["late_fees"] = frame["default"] * 30.0 + np.random.default_rng(1).uniform(0, 5, rows)
    return frame


def setup(ws_dir: Path, frame: pd.DataFrame, **project: Any) -> Workspace:
    write_project(ws_dir, **project)
    ws = Workspace.open(ws_dir)
    ws.datasets.snapshot(frame, name="apps")
    return ws


def test_a_feature_that_predicts_the_target_alone_stops_training(ws_dir: Path) -> None:
    with setup(ws_dir, leaky_frame(), modules=WITH_LATE_FEES) as ws:
        with pytest.raises(LeakageDetected) as caught:
            ws.runs.train()
        message = caught.value.message
        assert "nothing was trained" in message
        assert "feature 'late_fees' alone predicts the target 'default' with ROC AUC 1.0000" in (
            message
        )
        (finding,) = caught.value.details["findings"]
        assert finding["details"]["column"] == "late_fees" and finding["details"]["score"] == 1.0
        assert ws.runs.list() == [] and ws.features.list() == []


def test_set_to_warn_it_trains_and_records_the_finding(ws_dir: Path) -> None:
    training = {**TRAINING, "leakage": {"target": "warn"}}
    with setup(ws_dir, leaky_frame(), modules=WITH_LATE_FEES, training=training) as ws:
        outcome = ws.runs.train()
        assert outcome.run.status == "succeeded"
        finding, model = outcome.run.leakage
        assert finding["severity"] == "warn" and finding["check"] == "target"
        assert "late_fees" in finding["message"]
        assert outcome.leakage is not None and outcome.leakage.warnings
        # The trained model shows the leak too: recorded as an error for the checklist.
        assert model["check"] == "too_good" and model["severity"] == "error"
        assert "too good to be true: ROC AUC 1.0000" in model["message"]


def test_regression_leakage_uses_correlation(ws_dir: Path) -> None:
    frame = credit_frame().drop(columns=["default"])
    frame["loss"] = frame["income"] * 2.0 + 1.0
    project = {**PROJECT, "task": "regression"}
    training = {**TRAINING, "estimator": "sklearn.linear_model.Ridge", "params": {}}
    columns = {"id": "customer_id", "target": "loss"}
    with (
        setup(ws_dir, frame, project=project, training=training, columns=columns) as ws,
        pytest.raises(LeakageDetected, match=r"'income' .* \|correlation\| 1.0000"),
    ):
        ws.runs.train()


def test_pii_and_post_prediction_columns_cannot_be_features(ws_dir: Path) -> None:
    modules = {
        "columns.py": 'NUMERIC = ["income", "age"]\n',
        "features.py": """\
            from sklearn.compose import ColumnTransformer
            from sklearn.preprocessing import OneHotEncoder, StandardScaler


            def build():
                return ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["income", "collections"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["email"]),
                    ]
                )
            """,
    }
    frame = credit_frame()
    frame["collections"] = np.random.default_rng(2).normal(size=len(frame))
    columns = {
        "id": "customer_id",
        "target": "default",
        "pii": ["email"],
        "post_prediction": ["collections"],
    }
    with setup(ws_dir, frame, modules=modules, columns=columns) as ws:
        with pytest.raises(LeakageDetected) as caught:
            ws.runs.train()
        message = caught.value.message
        assert "feature(s) 'email' is marked PII in [columns]" in message
        assert "'collections' is marked known only after prediction time" in message


def test_the_same_id_in_training_and_evaluation_is_contamination(ws_dir: Path) -> None:
    frame = credit_frame()
    frame["customer_id"] = frame["customer_id"] % 150  # customers with several applications
    match = r"id\(s\) of column 'customer_id' appear in both"
    with setup(ws_dir, frame) as ws, pytest.raises(LeakageDetected, match=match):
        ws.runs.train()


def test_duplicate_rows_across_the_split_are_contamination(ws_dir: Path) -> None:
    frame = credit_frame()
    frame = pd.concat([frame, frame.iloc[:60]], ignore_index=True)
    columns = {"target": "default"}  # no id column: only the exact-row check applies
    match = "evaluation row\\(s\\) are exact copies"
    with setup(ws_dir, frame, columns=columns) as ws, pytest.raises(LeakageDetected, match=match):
        ws.runs.train()


def test_a_training_row_at_or_after_the_evaluation_start_is_temporal_leakage() -> None:
    times = pd.Series(pd.date_range("2025-01-01", periods=10, freq="D"))
    frame = pd.DataFrame({"t": times, "x": np.arange(10.0), "y": [0, 1] * 5})
    inputs = LeakageInputs(
        frame=frame,
        train=np.array([0, 1, 2, 3, 4, 5, 8]),  # row 8 is after the evaluation starts
        eval=np.array([6, 7, 9]),
        task="binary",
        target="y",
        features=["x"],
        time_column="t",
        time_split=True,
    )
    report = check_leakage(inputs, LeakageSettings(target="off"))
    (finding,) = report.errors
    assert finding.check == "temporal"
    assert "1 training row(s) are at or after the evaluation start 2025-01-07" in finding.message
    assert finding.details["examples"] == [8]
    # The same split in time order passes.
    ordered = LeakageInputs(**{**inputs.__dict__, "train": np.arange(6), "eval": np.arange(6, 10)})
    assert check_leakage(ordered, LeakageSettings(target="off")).findings == []


def test_a_time_split_never_straddles_a_timestamp(ws_dir: Path) -> None:
    frame = credit_frame()
    frame["applied_at"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(
        np.arange(len(frame)) // 50, unit="D"
    )
    columns = {"id": "customer_id", "target": "default", "time": "applied_at"}
    training = {**TRAINING, "split": {"method": "time", "eval_fraction": 0.3}}
    with setup(ws_dir, frame, columns=columns, training=training) as ws:
        run = ws.runs.train().run
        assert run.leakage == []
        assert run.split["eval_rows"] == 150  # whole days: 3 of 8, not 120 rows


def test_checks_set_to_off_do_not_run() -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0] * 50, "y": [0, 1] * 50})
    inputs = LeakageInputs(
        frame=frame,
        train=np.arange(80),
        eval=np.arange(80, 100),
        task="binary",
        target="y",
        features=["x"],
    )
    assert [f.check for f in check_leakage(inputs, LeakageSettings()).errors] == [
        "target",
        "contamination",
    ]
    off = LeakageSettings(target="off", contamination="off")
    assert check_leakage(inputs, off).findings == []


def test_single_feature_scores_fit_each_task() -> None:
    rng = np.random.default_rng(0)
    y3 = pd.Series(rng.choice(["a", "b", "c"], 600))
    exact = y3.map({"a": 0.0, "b": 1.0, "c": 2.0}) + rng.uniform(0, 0.1, 600)
    noise = pd.Series(rng.normal(size=600))
    metric, score = single_feature_score(exact, y3, "multiclass") or ("", 0.0)
    assert metric == "roc_auc_ovr" and score >= LeakageSettings().auc_threshold
    metric, score = single_feature_score(noise, y3, "multiclass") or ("", 0.0)
    assert metric == "roc_auc_ovr" and score < 0.7
    # A text column with one value per row is memorisation, not leakage: not scored.
    unique_text = pd.Series([f"user{i}" for i in range(600)])
    assert single_feature_score(unique_text, (y3 == "a").astype(int), "binary") is None
    # A categorical that determines the target is scored and caught.
    assert single_feature_score(y3, (y3 == "a").astype(int), "binary") == ("roc_auc", 1.0)


def test_a_non_monotone_copy_of_the_target_is_caught_where_correlation_sees_nothing() -> None:
    rng = np.random.default_rng(3)
    angle = pd.Series(rng.uniform(-3.0, 3.0, 2000))
    y = pd.Series(angle**2 + rng.normal(0.0, 0.1, 2000))  # the target from |angle|
    frame = pd.DataFrame({"angle": angle, "noise": rng.normal(size=2000), "y": y})
    inputs = LeakageInputs(
        frame=frame,
        train=np.arange(1600),
        eval=np.arange(1600, 2000),
        task="regression",
        target="y",
        features=["angle", "noise"],
    )
    (finding,) = check_leakage(inputs, LeakageSettings()).errors
    assert finding.details["columns"] == ["angle"]
    assert finding.details["correlation"] < 0.1 and finding.details["score"] > 0.95


@pytest.mark.parametrize(
    ("loader", "task"),
    [
        ("load_wine", "multiclass"),
        ("load_breast_cancer", "binary"),
        ("load_diabetes", "regression"),
    ],
)
def test_honest_bundled_datasets_raise_no_leakage_finding(loader: str, task: str) -> None:
    import sklearn.datasets

    frame = getattr(sklearn.datasets, loader)(as_frame=True).frame
    order = np.random.default_rng(0).permutation(len(frame))
    cut = int(len(frame) * 0.8)
    inputs = LeakageInputs(
        frame=frame,
        train=np.sort(order[:cut]),
        eval=np.sort(order[cut:]),
        task=task,  # type: ignore[arg-type]
        target="target",
        features=[c for c in frame.columns if c != "target"],
    )
    assert check_leakage(inputs, LeakageSettings()).findings == []
