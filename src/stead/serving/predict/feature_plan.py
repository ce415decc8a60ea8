"""A compiled feature plan: a fitted ColumnTransformer's arithmetic on NumPy columns.

A fitted ``ColumnTransformer`` spends most of a one-row call in validation, pandas
column selection and container bookkeeping: about 1.5 ms for 20 scaled columns on the
2-core reference machine, against 0.02 ms of arithmetic. The server already holds each
request as validated column arrays, so for the transformers whose arithmetic is plain
(``passthrough``, ``StandardScaler``, ``MinMaxScaler``, mean/median/constant
``SimpleImputer``, ``OneHotEncoder`` without dropped or infrequent categories, and
pipelines of those) :func:`compile_features` replays the same operations, in the same
order and dtype, straight on the arrays, and skips the DataFrame altogether.

Anything else compiles to ``None`` with the reason, and the server builds one DataFrame
per micro-batch and calls the pipeline as it is. A plan is only used after the server
checked on probe rows that it gives the pipeline's outputs bit for bit (see
:mod:`stead.serving.predict.runner`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
)

Columns = Mapping[str, np.ndarray]
MatrixOp = Callable[[np.ndarray], np.ndarray]


class NotCompilable(Exception):
    """The transformer does something the plan does not replay; the message says what."""


@dataclass(frozen=True)
class _Block:
    """One transformer of the ColumnTransformer: its input columns and what it does."""

    columns: tuple[str, ...]
    encode: Callable[[Columns, int], np.ndarray]


@dataclass(frozen=True)
class FeaturePlan:
    """Turns validated input columns into the matrix the final estimator reads."""

    blocks: tuple[_Block, ...]
    after: tuple[MatrixOp, ...]
    sparse_output: bool

    def transform(self, columns: Columns, rows: int) -> Any:
        parts = [block.encode(columns, rows) for block in self.blocks]
        matrix = np.hstack(parts) if parts else np.zeros((rows, 0))
        for op in self.after:
            matrix = op(matrix)
        return sparse.csr_matrix(matrix) if self.sparse_output else matrix


def compile_features(features: Any, kinds: Mapping[str, str]) -> FeaturePlan:
    """Compile the fitted feature step of a pipeline.

    Args:
        features: a fitted ``ColumnTransformer``, or a ``Pipeline`` whose first step is
            one and whose later steps are numeric transformers the plan knows.
        kinds: each input column's contract kind (``int``, ``float``, ``string`` ...).

    Raises:
        NotCompilable: saying which part cannot be replayed.
    """
    steps = features.steps if isinstance(features, Pipeline) else [("features", features)]
    first = steps[0][1]
    if not isinstance(first, ColumnTransformer):
        raise NotCompilable(
            f"the feature step is a {type(first).__name__}, not a ColumnTransformer"
        )
    blocks, sparse_output = _column_transformer(first, kinds)
    after = tuple(_matrix_op(step) for _, step in steps[1:])
    return FeaturePlan(blocks=blocks, after=after, sparse_output=sparse_output)


def _column_transformer(
    ct: ColumnTransformer, kinds: Mapping[str, str]
) -> tuple[tuple[_Block, ...], bool]:
    if getattr(ct, "_sklearn_output_config", {}).get("transform", "default") != "default":
        raise NotCompilable("the ColumnTransformer outputs DataFrames (set_output)")
    names = list(getattr(ct, "feature_names_in_", []))
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if not names or indices is None:
        raise NotCompilable("the ColumnTransformer was not fitted on named columns")
    weights = ct.transformer_weights or {}
    blocks = []
    for name, transformer, _ in ct.transformers_:
        columns = tuple(names[i] for i in indices.get(name, []))
        if transformer == "drop" or not columns:
            continue
        weight = weights.get(name)
        encode = _encoder(transformer, columns, kinds)
        if weight is not None:
            encode = _weighted(encode, float(weight))
        blocks.append(_Block(columns, encode))
    return tuple(blocks), bool(ct.sparse_output_)


def _weighted(
    encode: Callable[[Columns, int], np.ndarray], weight: float
) -> Callable[[Columns, int], np.ndarray]:
    def run(columns: Columns, rows: int) -> np.ndarray:
        return encode(columns, rows) * weight

    return run


def _encoder(
    transformer: Any, columns: tuple[str, ...], kinds: Mapping[str, str]
) -> Callable[[Columns, int], np.ndarray]:
    if isinstance(transformer, OneHotEncoder):
        return _one_hot(transformer, columns)
    steps = transformer.steps if isinstance(transformer, Pipeline) else [("step", transformer)]
    if isinstance(steps[0][1], OneHotEncoder):
        first = _one_hot(steps[0][1], columns)
        rest = tuple(_matrix_op(step) for _, step in steps[1:])
        return _chain(first, rest)
    text = [c for c in columns if kinds.get(c) not in ("int", "float")]
    if text:
        raise NotCompilable(f"non-numeric column(s) {', '.join(text)} reach a numeric step")
    ops = tuple(_matrix_op(step) for _, step in steps)
    return _chain(_numeric(columns), ops)


def _chain(
    first: Callable[[Columns, int], np.ndarray], ops: tuple[MatrixOp, ...]
) -> Callable[[Columns, int], np.ndarray]:
    def run(columns: Columns, rows: int) -> np.ndarray:
        matrix = first(columns, rows)
        for op in ops:
            matrix = op(matrix)
        return matrix

    return run


def _numeric(columns: tuple[str, ...]) -> Callable[[Columns, int], np.ndarray]:
    def run(values: Columns, rows: int) -> np.ndarray:
        matrix = np.empty((rows, len(columns)), dtype=np.float64)
        for j, name in enumerate(columns):
            matrix[:, j] = values[name]
        return matrix

    return run


def _matrix_op(step: Any) -> MatrixOp:
    """The arithmetic of a fitted numeric transformer, as scikit-learn does it."""
    if _is_identity(step):
        return _identity
    if isinstance(step, StandardScaler):
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None

        def standard(X: np.ndarray) -> np.ndarray:
            X = np.array(X, dtype=np.float64)
            if mean is not None:
                X -= mean
            if scale is not None:
                X /= scale
            return X

        return standard
    if isinstance(step, MinMaxScaler):
        low, high = step.feature_range

        def min_max(X: np.ndarray) -> np.ndarray:
            X = np.array(X, dtype=np.float64)
            X *= step.scale_
            X += step.min_
            if step.clip:
                np.clip(X, low, high, out=X)
            return X

        return min_max
    if isinstance(step, SimpleImputer):
        return _imputer(step)
    raise NotCompilable(f"{type(step).__name__} is not one of the transformers a plan replays")


def _identity(X: np.ndarray) -> np.ndarray:
    return X


def _is_identity(step: Any) -> bool:
    # A fitted ColumnTransformer keeps "passthrough" as a FunctionTransformer without a
    # function, which returns its input unchanged.
    if isinstance(step, str):
        return step == "passthrough"
    if step is None:
        return True
    return (
        isinstance(step, FunctionTransformer)
        and step.func is None
        and not step.validate
        and getattr(step, "_sklearn_output_config", {}).get("transform", "default") == "default"
    )


def _imputer(step: SimpleImputer) -> MatrixOp:
    statistics = np.asarray(step.statistics_, dtype=np.float64)
    missing = step.missing_values
    if step.add_indicator or not (isinstance(missing, float) and np.isnan(missing)):
        raise NotCompilable("a SimpleImputer with indicators or non-NaN missing values")
    if not np.isfinite(statistics).all():
        raise NotCompilable("a SimpleImputer with empty features")

    def impute(X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64)
        return np.where(np.isnan(X), statistics, X)

    return impute


def _one_hot(
    encoder: OneHotEncoder, columns: tuple[str, ...]
) -> Callable[[Columns, int], np.ndarray]:
    if encoder.drop is not None or getattr(encoder, "_infrequent_enabled", False):
        raise NotCompilable("a OneHotEncoder that drops or groups categories")
    if encoder.handle_unknown not in ("ignore", "error", "warn"):
        raise NotCompilable(f"a OneHotEncoder with handle_unknown={encoder.handle_unknown!r}")
    lookups = []
    for categories in encoder.categories_:
        values = categories.tolist()
        if any(v is None or (isinstance(v, float) and v != v) for v in values):
            raise NotCompilable("a OneHotEncoder that learned a missing-value category")
        lookups.append({v: j for j, v in enumerate(values)})
    widths = [len(lookup) for lookup in lookups]
    offsets = np.cumsum([0, *widths])
    dtype = encoder.dtype
    strict = encoder.handle_unknown == "error"

    def encode(values: Columns, rows: int) -> np.ndarray:
        out = np.zeros((rows, int(offsets[-1])), dtype=dtype)
        for k, (name, lookup) in enumerate(zip(columns, lookups, strict=True)):
            positions = [lookup.get(v, -1) for v in values[name].tolist()]
            hits = np.asarray(positions, dtype=np.int64)
            known = hits >= 0
            if strict and not known.all():
                raise ValueError(f"column {name!r} holds categories unknown to the encoder")
            out[np.flatnonzero(known), hits[known] + offsets[k]] = 1
        return out

    return encode
