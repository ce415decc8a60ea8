"""Signals alone: performance estimation, schema changes, KPIs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from stead.data.contract import ColumnContract, Contract
from stead.data.profile import Profile, profile_column
from stead.monitoring.settings import KpiSettings, PerformanceSettings
from stead.monitoring.signals import business_kpis, expected_roc_auc, schema_changes
from stead.monitoring.signals.performance import measured_performance


def test_expected_roc_auc_matches_the_realised_one_when_probabilities_are_calibrated() -> None:
    rng = np.random.default_rng(3)
    q = 1 / (1 + np.exp(-(-1.0 + 1.5 * rng.normal(size=4000))))
    estimate, se = expected_roc_auc(q, q)
    realised = [roc_auc_score(rng.random(q.size) < q, q) for _ in range(100)]
    assert estimate is not None
    assert abs(estimate - float(np.mean(realised))) < 0.005
    assert 0.5 * np.std(realised) < se < 2 * np.std(realised)
    # Coarse scores (ties) are counted half, as roc_auc_score does.
    coarse = np.round(q, 1)
    tied, _ = expected_roc_auc(coarse, q)
    realised = [roc_auc_score(rng.random(q.size) < q, coarse) for _ in range(100)]
    assert tied is not None and abs(tied - float(np.mean(realised))) < 0.005


def test_schema_changes_name_missing_new_and_retyped_fields_and_null_jumps() -> None:
    reference = pd.DataFrame({"age": [30, 40, 50] * 50, "income": [1.0, 2.0, 3.0] * 50})
    profile = Profile(
        rows=150, columns=[profile_column(reference[c], "float", bins=5) for c in reference]
    )
    contract = Contract(
        [
            ColumnContract("age", "int", False, 30.0, 50.0),
            ColumnContract("income", "float", False, 1.0, 3.0),
            ColumnContract("region", "string", False, levels=["north"]),
        ]
    )
    window = pd.DataFrame(
        {
            "age": ["thirty", "40"] * 50,
            "income": [None, 2.0, 9.0, 2.0] * 25,
            "region": [None] * 100,
            "referrer": ["x"] * 100,
        }
    )
    result = schema_changes(
        contract,
        profile,
        window,
        null_rate_jump=0.05,
        out_of_range_rate=0.01,
        range_tolerance=0.0,
    )
    assert result.status == "alert"
    assert result.summary["missing_fields"] == ["region"]
    assert result.summary["new_fields"] == ["referrer"]
    assert result.details["type_changes"]["age"]["examples"][0] == "thirty"
    assert result.details["null_rate_jumps"]["income"]["null_rate"] == 0.25
    assert result.details["out_of_range"]["income"]["rate"] == 25 / 75


def test_schema_counts_the_answers_the_server_flagged_out_of_range() -> None:
    reference = pd.DataFrame({"balance": [0.0, 500.0, 1000.0] * 20, "temp": [10.0] * 60})
    profile = Profile(
        rows=60, columns=[profile_column(reference[c], "float", bins=5) for c in reference]
    )
    contract = Contract(
        [
            ColumnContract("balance", "float", False, 0.0, 1000.0),
            ColumnContract("temp", "float", False, -5.0, 35.0),
        ]
    )
    window = pd.DataFrame(
        {"balance": [10.0, 5000.0, 20.0, 9000.0], "temp": [12.0, 41.0, 12.0, 12.0]}
    )
    # As the log reads back: a list of field names, or null.
    flagged = pd.Series([None, np.array(["balance", "temp"]), None, np.array(["balance"])])
    result = schema_changes(
        contract,
        profile,
        window,
        null_rate_jump=0.05,
        out_of_range_rate=0.01,
        range_tolerance=0.0,
        flagged=flagged,
    )
    summary = result.summary
    assert (summary["out_of_range_answered"], summary["out_of_range_answered_rate"]) == (2, 0.5)
    assert summary["out_of_range_answered_by_field"] == {"balance": 2, "temp": 1}
    assert result.details["out_of_range"]["balance"] == {
        "rate": 0.5,
        "min": 0.0,
        "max": 1000.0,
        "answered": 2,
    }
    assert result.details["columns"]["temp"]["out_of_range_answered"] == 1
    assert result.message == (
        "schema changed: out of range: balance, temp; 2 of 4 answered outside the training "
        "range (balance 2, temp 1)"
    )
    unflagged = schema_changes(
        contract,
        profile,
        window,
        null_rate_jump=0.05,
        out_of_range_rate=0.01,
        range_tolerance=0.0,
    )
    assert unflagged.summary["out_of_range_answered"] == 0
    assert "answered outside" not in unflagged.message


def test_kpis_aggregate_per_window_and_alert_outside_their_limits() -> None:
    feedback = pd.DataFrame(
        {
            "request_id": ["a", "b", "c", "d"],
            "role": ["production", "production", "canary", "shadow"],
            "kpis.loss_amount": [100.0, 0.0, 50.0, 999.0],
            "kpis.complaint": [True, False, False, True],
        }
    )
    kpis = {
        "loss": KpiSettings(source="loss_amount", aggregate="sum", max=120.0),
        "complaints": KpiSettings(source="complaint", aggregate="rate", max=0.5),
    }
    result = business_kpis(feedback, kpis, final=True)
    assert result.summary["kpis"]["loss"]["value"] == 150.0  # the shadow's row is not counted
    assert result.summary["kpis"]["complaints"]["value"] == 1 / 3
    assert result.status == "alert" and result.summary["breached"] == ["loss"]
    assert result.message == "KPI loss 150 (sum) above 120"


def test_drift_says_how_many_inputs_it_checked_and_why_it_skipped_the_others() -> None:
    from stead.monitoring.drift.thresholds import DriftConfig
    from stead.monitoring.report.headlines import headline
    from stead.monitoring.signals import feature_drift

    rng = np.random.default_rng(0)
    reference = pd.DataFrame({c: rng.normal(size=600) for c in ("age", "income", "debt")})
    profile = Profile(
        rows=600, columns=[profile_column(reference[c], "float", bins=10) for c in reference]
    )
    window = pd.DataFrame({"age": rng.normal(size=400), "income": rng.normal(3, 1, size=400)})

    result = feature_drift(
        profile, window, columns=["age", "income", "debt", "zip"], config=DriftConfig()
    )

    assert result.summary["drifted"] == ["income"]
    assert (result.summary["checked"], result.summary["inputs"]) == (2, 4)
    assert set(result.summary["skipped"]) == {"debt", "zip"}
    assert result.summary["skipped"]["zip"] == "no training profile to compare with"
    expected = "1 of 2 inputs drifted (2 of 4 skipped: debt: "
    # The same words in the signal's message and the report's headline.
    assert result.message.startswith(expected)
    assert headline(result).startswith(expected)


def _regression_feedback(rows: int, error: float, seed: int = 0) -> pd.DataFrame:
    # Hourly rentals of about 200 bikes, predicted with an RMSE of about ``error``.
    rng = np.random.default_rng(seed)
    label = rng.normal(200, 60, rows).round()
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "role": "production",
            "error": None,
            "model_version": "bikes@1",
            "label": label,
            "outputs.value": label + rng.normal(0, error, rows),
        }
    )


def test_an_rmse_is_judged_against_a_fraction_of_its_training_value() -> None:
    training_rmse = 45.0
    settings = PerformanceSettings()
    tolerance, basis = settings.allowed("rmse", training_rmse)

    def judge(window: pd.DataFrame, allowed: float, how: str) -> Any:
        return measured_performance(
            window,
            task="regression",
            classes=None,
            metric="rmse",
            training_value=training_rmse,
            tolerance=allowed,
            tolerance_basis=how,
            min_labels=200,
            predictions=len(window),
            final=True,
        )

    # A window 1 % worse than training is fine; 0.05 bikes of RMSE would have flagged it.
    steady = judge(_regression_feedback(2000, training_rmse * 1.01), tolerance, basis)
    assert (tolerance, basis) == (pytest.approx(2.25), "5% of training rmse 45")
    assert steady.status == "ok" and "tolerance 2.25, 5% of training rmse 45" in steady.message
    assert judge(_regression_feedback(2000, training_rmse * 1.01), 0.05, "absolute").status == (
        "alert"
    )
    # A window 20 % worse is below tolerance.
    worse = judge(_regression_feedback(2000, training_rmse * 1.2, seed=1), tolerance, basis)
    assert worse.status == "alert" and worse.summary["below"]
    # Bounded metrics keep the tolerance in their own units; the mode can say otherwise.
    assert settings.allowed("roc_auc", 0.8) == (0.05, "absolute")
    assert PerformanceSettings(tolerance_mode="absolute").allowed("rmse", 45.0) == (
        0.05,
        "absolute",
    )
    relative_auc = PerformanceSettings(tolerance_mode="relative").allowed("roc_auc", 0.8)
    assert relative_auc[0] == pytest.approx(0.04)
