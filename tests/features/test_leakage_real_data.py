"""Leakage checks on data shaped like the public datasets where a reviewer found leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.features.leakage import LeakageDetected
from stead.workspace import Workspace
from tests.training.projects import set_tables

from .realistic import (
    BIKE_HONEST,
    BIKE_TRAINING,
    CREDIT_TRAINING,
    bike_workspace,
    credit_workspace,
)


def test_a_noisy_copy_of_the_target_is_caught_by_the_single_feature_model(
    ws_dir: Path,
) -> None:
    with bike_workspace(ws_dir, [*BIKE_HONEST, "bikers_estimate"]) as ws:
        with pytest.raises(LeakageDetected) as caught:
            ws.runs.train()
        (finding,) = caught.value.details["findings"]
        details = finding["details"]
        assert finding["check"] == "target" and details["columns"] == ["bikers_estimate"]
        # A correlation threshold alone misses it; the single-feature model does not.
        assert 0.97 < details["correlation"] < 0.98 and details["score"] >= 0.95
        assert details["setting"] == "[training.leakage] r2_threshold"
        message = caught.value.message
        assert "feature 'bikers_estimate' alone explains the target 'bikers' with R² 0.95" in (
            message
        )
        assert "threshold r2_threshold = 0.95" in message
        assert ws.runs.list() == []


def test_columns_that_sum_to_the_target_are_caught_as_a_combination(ws_dir: Path) -> None:
    with bike_workspace(ws_dir, [*BIKE_HONEST, "casual", "registered"]) as ws:
        with pytest.raises(LeakageDetected) as caught:
            ws.runs.train()
        (finding,) = caught.value.details["findings"]  # neither column alone is flagged
        details = finding["details"]
        assert finding["check"] == "combination"
        assert sorted(details["columns"]) == ["casual", "registered"]
        assert details["score"] > 0.9999
        assert details["coefficients"] == {
            column: pytest.approx(1.0) for column in details["columns"]
        }
        assert "together explain the target 'bikers' almost exactly" in caught.value.message
        assert "combination_threshold = 0.999" in caught.value.message


def test_a_model_too_good_to_be_true_fails_the_readiness_checklist(ws_dir: Path) -> None:
    # With the data checks off the sum trains (R² ≈ 1): the model itself gives it away.
    training = {
        **BIKE_TRAINING,
        "estimator": "sklearn.linear_model.LinearRegression",
        "params": {},
        "leakage": {"target": "off", "combination": "off"},
    }
    features = [*BIKE_HONEST, "casual", "registered"]
    with bike_workspace(ws_dir, features, training=training) as ws:
        outcome = ws.runs.train()
        (finding,) = outcome.run.leakage
        assert finding["check"] == "too_good" and finding["severity"] == "error"
        assert finding["details"]["score"] > 0.999
        assert "too good to be true: R² 1.0000" in finding["message"]
        assert "too_good_r2 = 0.99" in finding["message"]
        assert "too good to be true" in outcome.message
        ref = ws.models.register(outcome.run.id, name="bikes").version.ref
        checklist = ws.models.checklist(ref)
        item = {i.key: i for i in checklist.items}["leakage"]
        assert item.status == "fail" and "leakage" in [i.key for i in checklist.blocking]
        assert "too good to be true" in item.detail
        assert '[training.leakage] too_good = "error"' in item.detail
    # Accepted on purpose (too_good = "warn"), the item passes and lists what was accepted.
    set_tables(
        ws_dir, {"training": {**training, "leakage": {**training["leakage"], "too_good": "warn"}}}
    )
    with Workspace.open(ws_dir) as ws:
        item = {i.key: i for i in ws.models.checklist(ref).items}["leakage"]
        assert item.status == "pass" and "accepted as warnings: too_good" in item.detail


def test_a_column_marked_post_prediction_after_training_fails_the_checklist(
    ws_dir: Path,
) -> None:
    with bike_workspace(ws_dir, [*BIKE_HONEST, "casual"]) as ws:
        run = ws.runs.train().run
        assert run.leakage == []
        ref = ws.models.register(run.id, name="bikes").version.ref
        item = {i.key: i for i in ws.models.checklist(ref).items}["leakage"]
        assert item.status == "pass", item.detail
    # The reviewer notes that casual rentals are only counted after the hour.
    columns = {"target": "bikers", "time": "when", "post_prediction": ["casual"]}
    set_tables(ws_dir, {"columns": columns})
    with Workspace.open(ws_dir) as ws:
        item = {i.key: i for i in ws.models.checklist(ref).items}["leakage"]
        assert item.status == "fail"
        assert f"input column(s) 'casual' of run {run.id} is marked known only after" in (
            item.detail
        )


def test_recurring_customers_with_a_time_column_train_on_a_time_split_by_default(
    ws_dir: Path,
) -> None:
    with credit_workspace(ws_dir) as ws:
        run = ws.runs.train().run
        assert run.split["method"] == "time"
        assert run.spec.split.method == "time"
        assert run.leakage == []  # the same customer in later months is not contamination
        assert "average_precision" in run.metrics
        # At about 3 % positives accuracy cannot tell the model from the baseline;
        # average precision can.
        assert abs(run.metrics["accuracy"] - run.baseline_metrics["accuracy"]) < 0.01
        assert run.metrics["average_precision"] > 3 * run.baseline_metrics["average_precision"]


def test_recurring_customers_on_a_random_split_name_the_time_split_and_the_id(
    ws_dir: Path,
) -> None:
    training = {**CREDIT_TRAINING, "split": {"method": "random"}}
    with credit_workspace(ws_dir, training=training) as ws:
        with pytest.raises(LeakageDetected) as caught:
            ws.runs.train()
        message = caught.value.message
        assert "id(s) of column 'customer_id' appear in both" in message
        assert "of the random split" in message
        assert "[training.split] method = \"time\" (time column 'month')" in message
        (finding,) = caught.value.details["findings"]
        assert finding["details"]["setting"] == "[training.split] method"
