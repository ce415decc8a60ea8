"""Prediction drift: the feature statistics applied to a model's outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stead.monitoring import detect_prediction_drift, profile_outputs


def test_a_probability_column_is_compared_as_numbers() -> None:
    rng = np.random.default_rng(0)
    reference = profile_outputs(pd.Series(rng.beta(2, 5, 50_000), name="p_default"))

    same = detect_prediction_drift(reference, pd.Series(rng.beta(2, 5, 20_000)))
    moved = detect_prediction_drift(reference, pd.Series(rng.beta(3, 4, 20_000)))

    assert reference.kind == "float"
    assert same.kind == "numeric" and same.status == "ok"
    assert moved.drifted and {"psi", "wasserstein"} & set(moved.flagged_by)


def test_integer_class_labels_are_compared_as_classes() -> None:
    rng = np.random.default_rng(1)
    reference = profile_outputs(
        pd.Series(rng.choice([0, 1, 2], 50_000, p=[0.7, 0.2, 0.1]), name="label")
    )

    same = detect_prediction_drift(
        reference, pd.Series(rng.choice([0, 1, 2], 20_000, p=[0.7, 0.2, 0.1]))
    )
    moved = detect_prediction_drift(
        reference, pd.Series(rng.choice([0, 1, 2], 20_000, p=[0.4, 0.4, 0.2]))
    )
    new_class = detect_prediction_drift(
        reference, pd.Series(rng.choice([0, 1, 3], 20_000, p=[0.7, 0.2, 0.1]))
    )

    assert reference.kind == "string"
    assert same.kind == "categorical" and same.status == "ok"
    assert moved.drifted and "js_distance" in moved.flagged_by
    assert new_class.drifted and "unseen_rate" in new_class.flagged_by


def test_boolean_decisions_are_classes() -> None:
    rng = np.random.default_rng(2)
    reference = profile_outputs(pd.Series(rng.random(10_000) < 0.1, name="approve"))
    result = detect_prediction_drift(reference, pd.Series(rng.random(10_000) < 0.5))
    assert reference.kind == "bool"
    assert result.drifted
