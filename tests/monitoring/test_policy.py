"""The playbook, alone: which signals lead to which decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stead.monitoring.policy import PastWindow, decide
from stead.monitoring.settings import PolicySettings

POLICY = PolicySettings()


@dataclass(frozen=True)
class R:
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    message: str = ""


DRIFT = R(
    "alert",
    {
        "drifted": ["income"],
        "scores": {"income": {"status": "drifted", "kind": "numeric", "psi": 0.41, "ks": 0.2}},
    },
)
BELOW = R(
    "alert",
    {
        "metric": "roc_auc",
        "value": 0.70,
        "training": 0.86,
        "tolerance": 0.05,
        "labelled": 400,
        "below": True,
    },
)
FINE = R("ok", {**BELOW.summary, "value": 0.85, "below": False})
CONFIDENT = R(
    "alert",
    {
        "metric": "roc_auc",
        "estimate": 0.74,
        "training": 0.86,
        "tolerance": 0.05,
        "drop_probability": 0.99,
    },
)
UNSURE = R("ok", {**CONFIDENT.summary, "estimate": 0.80, "drop_probability": 0.6})


def kinds(results: dict[str, Any], history: list[PastWindow] | None = None) -> list[str]:
    return [d.kind for d in decide("credit", "w", results, history or [], POLICY)]


def test_drift_alone_asks_a_person_to_investigate_and_never_retrains() -> None:
    decisions = decide("credit", "w", {"data_drift": DRIFT}, [], POLICY)
    assert [d.kind for d in decisions] == ["investigate"]
    assert decisions[0].action == "alert"
    assert "income (psi 0.41, ks 0.2)" in decisions[0].message


def test_drift_and_a_measured_drop_trigger_retraining() -> None:
    decisions = decide("credit", "w", {"data_drift": DRIFT, "performance": BELOW}, [], POLICY)
    retrain = next(d for d in decisions if d.kind == "retrain")
    assert retrain.action == "trigger" and retrain.trigger_kind == "drift_and_drop"
    assert retrain.evidence["performance"]["source"] == "measured"
    assert retrain.evidence["drift"]["features"]["income"]["psi"] == 0.41


def test_a_confident_estimated_drop_counts_before_labels_and_an_unsure_one_does_not() -> None:
    confident = decide(
        "credit", "w", {"data_drift": DRIFT, "estimated_performance": CONFIDENT}, [], POLICY
    )
    assert any(d.kind == "retrain" for d in confident)
    assert (
        next(d for d in confident if d.kind == "retrain").evidence["performance"]["source"]
        == "estimated"
    )
    assert "retrain" not in kinds({"data_drift": DRIFT, "estimated_performance": UNSURE})


def test_measured_performance_overrules_an_estimate() -> None:
    results = {"data_drift": DRIFT, "performance": FINE, "estimated_performance": CONFIDENT}
    assert "retrain" not in kinds(results)


def test_a_feature_drifting_in_n_of_the_last_m_windows_means_revisit_features() -> None:
    past = [PastWindow("w4", ("income",)), PastWindow("w3", ()), PastWindow("w2", ("income",))]
    decisions = decide("credit", "w", {"data_drift": DRIFT}, past, POLICY)
    revisit = next(d for d in decisions if d.kind == "revisit_features")
    assert revisit.action == "recommendation"
    assert revisit.evidence["features"] == {"income": 3}
    assert "revisit_features" not in kinds({"data_drift": DRIFT}, past[:2])


def test_sustained_decay_over_k_windows_triggers_retraining_without_drift() -> None:
    judged_below = PastWindow("w2", performance_judged=True, performance_below=True)
    waiting = PastWindow("w1", performance_judged=False)
    history = [judged_below, waiting, PastWindow("w0", (), True, True)]
    decisions = decide("credit", "w", {"performance": BELOW}, history, POLICY)
    decay = next(d for d in decisions if d.kind == "retrain")
    assert decay.trigger_kind == "sustained_decay"
    assert decay.evidence["windows"] == ["w2", "w0"]  # windows waiting for labels are skipped
    one_fine = [judged_below, PastWindow("w0", (), True, False)]
    assert kinds({"performance": BELOW}, one_fine) == ["performance_below"]


def test_schema_system_and_kpi_alerts() -> None:
    results = {
        "schema": R("alert", {"missing_fields": ["age"]}, "schema changed: missing fields: age"),
        "system": R("alert", {"error_rate": 0.2}, "error rate 20.00% above 1.00%"),
        "kpi": R("ok", {}),
    }
    decisions = decide("credit", "w", results, [], POLICY)
    assert [(d.kind, d.severity) for d in decisions] == [
        ("schema_change", "warning"),
        ("system", "critical"),
    ]
    assert decisions[0].message == "schema changed: missing fields: age"
