from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from stead.serving.explain import Explainer, Explanation, explain
from stead.serving.shapley import EXACT_MAX_COLUMNS, shapley_values
from stead.workspace import Workspace
from tests.training.projects import credit_frame

from .served import LOGISTIC, TREES

COLUMNS = ["income", "age", "region"]


@pytest.fixture
def applicants() -> pd.DataFrame:
    return credit_frame(25, seed=9)[COLUMNS]


def _sums(e: Explanation) -> np.ndarray:
    return np.array(
        [b + sum(c.values()) for b, c in zip(e.base_values, e.contributions, strict=True)]
    )


def test_linear_contributions_are_exact_and_add_up_to_the_log_odds(
    sws: Workspace, applicants: pd.DataFrame
) -> None:
    loaded = sws.models.load(LOGISTIC)
    training = sws.explanations.training_rows(loaded)

    result = sws.explanations.explain(LOGISTIC, applicants)

    assert (result.method, result.output) == ("linear", "log_odds")
    assert result.classes == [1] * len(applicants)
    assert all(list(c) == COLUMNS for c in result.contributions)
    log_odds = loaded.pipeline.decision_function(applicants)
    np.testing.assert_allclose(_sums(result), log_odds, rtol=0, atol=1e-9)
    # By hand: coef × (x − training mean) per transformed column, region's one-hot
    # columns summed into one contribution.
    features, model = loaded.pipeline[0], loaded.pipeline[-1]
    mean = features.transform(training).mean(axis=0)
    terms = model.coef_[0] * (features.transform(applicants.head(1))[0] - mean)
    names = list(features.get_feature_names_out())
    region = sum(t for t, n in zip(terms, names, strict=True) if n.startswith("cat__region_"))
    assert result.contributions[0]["region"] == pytest.approx(region, abs=1e-12)
    assert result.base_values[0] == pytest.approx(model.intercept_[0] + model.coef_[0] @ mean)


def test_tree_contributions_from_shap_add_up_to_the_model_output(
    sws: Workspace, applicants: pd.DataFrame
) -> None:
    pytest.importorskip("shap")
    loaded = sws.models.load(TREES)

    result = sws.explanations.explain(loaded, applicants)

    assert (result.method, result.output) == ("tree", "log_odds")
    np.testing.assert_allclose(
        _sums(result), loaded.pipeline.decision_function(applicants), rtol=0, atol=1e-6
    )
    # Income drives the target most in this data.
    mean_abs = {c: np.mean([abs(r[c]) for r in result.contributions]) for c in COLUMNS}
    assert max(mean_abs, key=mean_abs.__getitem__) == "income"


def test_any_other_model_gets_exact_shapley_values_over_its_inputs(
    sws: Workspace, applicants: pd.DataFrame
) -> None:
    loaded = sws.models.load(TREES)
    training = sws.explanations.training_rows(loaded)
    data = credit_frame()
    # A neighbours model that never reads "age".
    knn = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("num", StandardScaler(), ["income"]), ("cat", OneHotEncoder(), ["region"])]
                ),
            ),
            ("model", KNeighborsClassifier(n_neighbors=15)),
        ]
    ).fit(data[COLUMNS], data["default"])
    model = dataclasses.replace(loaded, pipeline=knn)

    explainer = Explainer(model, training, seed=3)
    result = explainer.explain(applicants.head(4))

    assert (result.method, result.output) == ("shapley", "probability")
    np.testing.assert_allclose(
        _sums(result), knn.predict_proba(applicants.head(4))[:, 1], rtol=0, atol=1e-12
    )
    assert all(c["age"] == 0.0 for c in result.contributions)  # the dummy axiom
    assert explainer.explain(applicants.head(4)) == result  # seeded: the same every time


def test_sampled_permutations_beyond_the_exact_limit_still_add_up() -> None:
    rng = np.random.default_rng(5)
    width = EXACT_MAX_COLUMNS + 2
    columns = [f"x{i}" for i in range(width)]
    background = pd.DataFrame(rng.normal(size=(40, width)), columns=columns)
    record = pd.DataFrame(rng.normal(size=(1, width)), columns=columns)
    weights = np.arange(1.0, width + 1)

    def f(frame: pd.DataFrame) -> np.ndarray:
        return frame.to_numpy(dtype=float) @ weights

    result = shapley_values(f, record, background.head(1))

    assert not result.exact
    np.testing.assert_allclose(
        result.contributions[0],
        weights * (record.to_numpy()[0] - background.to_numpy()[0]),
        rtol=1e-9,
    )
    assert result.base_values[0] + result.contributions[0].sum() == pytest.approx(
        result.outputs[0], abs=1e-9
    )


def test_explain_takes_a_loaded_model_and_a_background(
    sws: Workspace, applicants: pd.DataFrame
) -> None:
    loaded = sws.models.load(LOGISTIC)
    rows = explain(loaded, applicants, background=sws.explanations.training_rows(loaded))
    assert rows == sws.explanations.explain(LOGISTIC, applicants).contributions
    assert sws.explanations.explainer(LOGISTIC) is sws.explanations.explainer(loaded)
