"""Batch invariance: a record's output does not depend on the batch it is predicted in."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from stead.core.settings import ValidationSettings
from stead.data.contract import ColumnContract, Contract
from stead.serving.predict.batch_invariance import (
    is_batch_invariant,
    make_batch_invariant,
    row_invariant_dot,
)
from stead.serving.predict.contract import EdgeContract
from stead.serving.predict.runner import ModelRunner

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2_000, 20))
Y = (X[:, 0] + RNG.normal(size=2_000) > 0).astype(int)
PROBE = RNG.normal(size=(96, 20)) * 3


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=np.float64).tobytes()


def test_blas_gives_a_row_different_bits_alone_than_in_a_batch() -> None:
    # Why the fix exists: plain scikit-learn is not batch-invariant (OpenBLAS here; the
    # kernels other BLAS libraries pick by shape differ likewise).
    model = LogisticRegression().fit(X, Y)
    ok, why = is_batch_invariant(lambda rows: model.predict_proba(PROBE[rows]), len(PROBE))
    if ok:
        pytest.skip("this BLAS happens to sum a 1-row and an n-row product alike")
    assert "differ between one batch and alone" in why


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(),
        LogisticRegression(C=0.1).fit(X, RNG.integers(0, 3, len(X))),
        Ridge(),
        LinearRegression(),
    ],
    ids=["binary", "multiclass", "ridge", "ols"],
)
def test_made_invariant_every_row_has_the_same_bits_in_any_batch(model: Any) -> None:
    if not hasattr(model, "coef_"):
        model.fit(X, Y)
    made = make_batch_invariant(model)
    assert made == [type(model).__name__]
    predict = getattr(model, "predict_proba", model.predict)
    ok, why = is_batch_invariant(lambda rows: predict(PROBE[rows]), len(PROBE))
    assert ok, why
    # Column-major input (a DataFrame's values) must not change anything either.
    assert bits(predict(np.asfortranarray(PROBE))) == bits(predict(PROBE))


def test_the_row_invariant_product_matches_the_matrix_product_to_rounding() -> None:
    weights = RNG.normal(size=(3, 20))
    assert np.allclose(row_invariant_dot(PROBE, weights), PROBE @ weights.T, rtol=1e-12)
    assert row_invariant_dot(PROBE, weights[0]).shape == (96,)


class BatchDependent(ClassifierMixin, BaseEstimator):
    """A model whose output depends on the other rows of its batch (centres by the
    batch mean): the probe must catch it."""

    def fit(self, X: Any, y: Any) -> BatchDependent:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        values = np.asarray(X, dtype=float)[:, 0]
        p = 1 / (1 + np.exp(-(values - values.mean())))
        return np.column_stack([1 - p, p])


def test_a_version_that_is_not_batch_invariant_is_run_one_record_at_a_time() -> None:
    contract = Contract([ColumnContract("a", "float", nullable=False, min=-5.0, max=5.0)])
    edge = EdgeContract(contract, policy=ValidationSettings(), model="odd@1")
    frame = pd.DataFrame({"a": X[:, 0]})
    pipeline = Pipeline(
        [
            ("features", ColumnTransformer([("num", "passthrough", ["a"])])),
            ("model", BatchDependent()),
        ]
    ).fit(frame, Y)
    runner = ModelRunner(
        pipeline, edge=edge, output={"task": "binary", "classes": [0, 1]}, label="odd@1"
    )
    assert runner.rowwise
    assert "predicting one record at a time" in runner.facts["batch_invariant"]
    one = edge.check_records([{"a": 1.0}])
    many = edge.check_records([{"a": 1.0}, {"a": -3.0}, {"a": 4.0}])
    [[alone]] = runner.run([one])
    together = runner.run([many, one])
    assert together[0][0] == alone and together[1][0] == alone


def test_the_served_pipeline_is_batch_invariant_end_to_end() -> None:
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["region"] = RNG.choice(["north", "south", "east"], len(frame))
    contract = Contract(
        [ColumnContract(n, "float", nullable=False, min=-5.0, max=5.0) for n in "abc"]
        + [ColumnContract("region", "string", nullable=False, levels=["east", "north", "south"])]
    )
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["a", "b", "c"]),
                        ("cat", OneHotEncoder(), ["region"]),
                    ]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, Y)
    edge = EdgeContract(contract, policy=ValidationSettings(), model="m@1")
    runner = ModelRunner(
        pipeline, edge=edge, output={"task": "binary", "classes": [0, 1]}, label="m@1"
    )
    assert not runner.rowwise and runner.facts["batch_invariant"] == "verified on probe rows"
    records = frame.head(50).to_dict("records")
    alone = [runner.run([edge.check_records([r])])[0][0] for r in records]
    together = runner.run([edge.check_records(records)])[0]
    assert together == alone
