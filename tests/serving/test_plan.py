"""The compiled feature plan gives exactly the pipeline's own features, or is refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from stead.core.settings import ValidationSettings
from stead.data.contract import ColumnContract, Contract
from stead.serving.predict.contract import EdgeContract
from stead.serving.predict.feature_plan import NotCompilable, compile_features

RNG = np.random.default_rng(1)
FRAME = pd.DataFrame(
    {
        "a": RNG.normal(10, 3, 300),
        "b": RNG.integers(0, 50, 300).astype(float),
        "c": RNG.normal(0, 1, 300),
        "region": RNG.choice(["east", "north", "south"], 300),
        "plan": RNG.choice(["basic", "gold"], 300),
    }
)
FRAME.loc[::7, "c"] = np.nan
KINDS = {"a": "float", "b": "int", "c": "float", "region": "string", "plan": "string"}
CONTRACT = Contract(
    [
        ColumnContract("a", "float", nullable=False, min=-20.0, max=40.0),
        ColumnContract("b", "int", nullable=False, min=0.0, max=49.0),
        ColumnContract("c", "float", nullable=True, min=-5.0, max=5.0),
        ColumnContract("region", "string", nullable=False, levels=["east", "north", "south"]),
        ColumnContract("plan", "string", nullable=False, levels=["basic", "gold"]),
    ]
)

FEATURES = {
    "scale+onehot": ColumnTransformer(
        [
            ("num", StandardScaler(), ["a", "b"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region", "plan"]),
        ]
    ),
    "passthrough+minmax+imputer": ColumnTransformer(
        [
            ("raw", "passthrough", ["a"]),
            ("mm", MinMaxScaler(clip=True), ["b"]),
            ("imp", Pipeline([("fill", SimpleImputer()), ("scale", StandardScaler())]), ["c"]),
            ("cat", OneHotEncoder(sparse_output=False), ["plan"]),
        ],
        transformer_weights={"mm": 2.0},
    ),
    "one-hot only, sparse output": ColumnTransformer(
        [("cat", OneHotEncoder(), ["region"])], remainder="drop", sparse_threshold=1.0
    ),
    "pipeline after the column transformer": Pipeline(
        [
            ("ct", ColumnTransformer([("num", "passthrough", ["a", "b"])])),
            ("scale", StandardScaler()),
        ]
    ),
}


def dense(matrix: Any) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


@pytest.mark.parametrize("name", list(FEATURES))
def test_the_plan_gives_the_features_bit_for_bit(name: str) -> None:
    features = FEATURES[name].fit(FRAME)
    plan = compile_features(features, KINDS)
    edge = EdgeContract(CONTRACT, policy=ValidationSettings(), model="m@1")
    records = FRAME.head(64).astype(object).where(FRAME.head(64).notna(), None).to_dict("records")
    batch = edge.check_records(records)
    expected = features.transform(batch.frame(edge.names))
    got = plan.transform(batch.arrays, batch.rows)
    assert type(dense(got)) is np.ndarray
    assert dense(got).tobytes() == dense(expected).astype(np.float64).tobytes()
    assert hasattr(got, "toarray") == hasattr(expected, "toarray")


def test_unknown_transformers_are_not_compiled_and_say_which() -> None:
    features = ColumnTransformer([("pca", PCA(n_components=1), ["a", "b"])]).fit(FRAME)
    with pytest.raises(NotCompilable, match="PCA is not one of the transformers"):
        compile_features(features, KINDS)
    text = ColumnTransformer([("raw", "passthrough", ["region"])]).fit(FRAME)
    with pytest.raises(NotCompilable, match="non-numeric column"):
        compile_features(text, KINDS)
    dropping = ColumnTransformer([("cat", OneHotEncoder(drop="first"), ["region"])]).fit(FRAME)
    with pytest.raises(NotCompilable, match="drops or groups"):
        compile_features(dropping, KINDS)
    with pytest.raises(NotCompilable, match="not a ColumnTransformer"):
        compile_features(StandardScaler().fit(FRAME[["a"]]), KINDS)
