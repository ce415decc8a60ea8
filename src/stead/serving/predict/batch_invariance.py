"""Batch-invariant predictions: a record's output must not depend on the batch it is in.

Micro-batching puts concurrent requests into one model call, and a request may carry
many records. Neither may change any output: the same input to the same revision gives
the same bits whatever arrived with it. Plain scikit-learn does not promise that. A
linear model's ``X @ coef.T`` goes to BLAS, which picks its kernel by shape (a dot
product for one row, gemv or blocked gemm for many) and each kernel sums the products in
its own order: ``LogisticRegression.predict_proba`` of a row alone and of the same row
inside a batch of 512 differ in the last bits for 143 of 512 rows (20 features,
OpenBLAS), and by the chunk size when a batch is cut into pieces.

The fix is to compute the reduction in an order that depends on the row alone:
element-wise products, then :func:`numpy.add.reduce` over the contiguous last axis, which
sums each row with the same pairwise scheme whatever the number of rows. Sparse inputs
already are row-invariant (a CSR product sums each row's non-zeros in index order).
:func:`make_batch_invariant` installs that decision function on every linear estimator
of a fitted pipeline (on the instance; the class is untouched). It agrees with the BLAS
result to rounding, not to the bit, and that is the point: there is now one answer.

Other kernels (a PCA inside the features, a custom model) cannot be fixed from outside,
so :func:`is_batch_invariant` proves the property on probe rows before a version serves:
each row predicted alone must equal the same row inside the batch and inside another
split of it, bit for bit. The server predicts a version that fails one row at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.linear_model._base import LinearClassifierMixin, LinearModel
from sklearn.pipeline import Pipeline

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, X: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(X, **kwargs)


def row_invariant_dot(X: Any, coef: np.ndarray) -> np.ndarray:
    """``X @ coef.T`` computed so that each row's result depends on that row alone.

    Args:
        X: a dense array or a sparse matrix of shape (n, p).
        coef: shape (k, p), or (p,) for one output.

    Returns:
        shape (n, k), or (n,) when ``coef`` is one-dimensional.
    """
    if sparse.issparse(X):
        out = np.asarray(X.tocsr() @ np.atleast_2d(coef).T)
    else:
        dense = np.asarray(X)
        weights = np.atleast_2d(coef)
        # The (n, k, p) products in C order, p last and contiguous: add.reduce then sums
        # each (row, output) pair pairwise over p, independently of n. Without order="C"
        # NumPy lays the products out like the input, and a column-major input (what a
        # DataFrame's values often are) makes the reduction order depend on n again.
        products = np.multiply(dense[:, None, :], weights[None, :, :], order="C")
        out = np.add.reduce(products, axis=2)
    return out[:, 0] if np.ndim(coef) == 1 else out


def _classifier_decision(estimator: Any) -> Callable[[Any], np.ndarray]:
    def decision_function(X: Any) -> np.ndarray:
        X = _validate_data(estimator, X, accept_sparse="csr", reset=False)
        scores = row_invariant_dot(X, estimator.coef_) + estimator.intercept_
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores

    return decision_function


def _regressor_decision(estimator: Any) -> Callable[[Any], np.ndarray]:
    def _decision_function(X: Any) -> np.ndarray:
        X = _validate_data(estimator, X, accept_sparse=["csr", "csc", "coo"], reset=False)
        result: np.ndarray = row_invariant_dot(X, estimator.coef_) + estimator.intercept_
        return result

    return _decision_function


def make_batch_invariant(model: Any) -> list[str]:
    """Give every linear estimator in ``model`` a row-invariant decision function.

    Only estimators that use scikit-learn's own linear decision function are changed
    (a subclass that overrides it is left alone, and so caught by the probe).

    Returns:
        The class names of the estimators changed.
    """
    changed: list[str] = []
    for estimator in _estimators(model):
        cls = type(estimator)
        if not hasattr(estimator, "coef_"):
            continue
        if (
            isinstance(estimator, LinearClassifierMixin)
            and cls.decision_function is LinearClassifierMixin.decision_function
        ):
            estimator.decision_function = _classifier_decision(estimator)
            changed.append(cls.__name__)
        elif (
            isinstance(estimator, LinearModel)
            and cls._decision_function is LinearModel._decision_function
        ):
            estimator._decision_function = _regressor_decision(estimator)
            changed.append(cls.__name__)
    return changed


def _estimators(model: Any) -> Iterator[Any]:
    if isinstance(model, Pipeline):
        for _, step in model.steps:
            yield from _estimators(step)
    elif isinstance(model, ColumnTransformer):
        for _, transformer, _ in getattr(model, "transformers_", []):
            yield from _estimators(transformer)
    elif isinstance(model, BaseEstimator):
        yield model
        for attribute in ("estimator_", "base_estimator_"):
            inner = getattr(model, attribute, None)
            if inner is not None:
                yield from _estimators(inner)


def is_batch_invariant(predict: Callable[[list[int]], np.ndarray], rows: int) -> tuple[bool, str]:
    """Check that predicting rows together equals predicting each alone, bit for bit.

    Args:
        predict: takes the positions of probe rows and returns their outputs, one per row
            (the first axis), computed in one call.
        rows: how many probe rows there are.

    Returns:
        ``(True, "")``, or ``(False, what differed)``.
    """
    everything = list(range(rows))
    together = np.asarray(predict(everything))
    alone = np.concatenate([np.asarray(predict([i])) for i in everything])
    thirds = np.concatenate([np.asarray(predict(everything[i : i + 3])) for i in range(0, rows, 3)])
    for label, other in (("alone", alone), ("in batches of 3", thirds)):
        if other.shape != together.shape:
            return False, f"shapes differ: {together.shape} in one batch, {other.shape} {label}"
        same = _same_bits(together, other)
        if not same.all():
            bad = int((~same).reshape(len(same), -1).any(axis=1).sum())
            return False, f"{bad} of {rows} probe rows differ between one batch and {label}"
    return True, ""


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality of the bits (NaN equals NaN; 0.0 differs from -0.0)."""
    if a.dtype == np.float64 and b.dtype == np.float64:
        return np.asarray(
            np.ascontiguousarray(a).view(np.uint64) == np.ascontiguousarray(b).view(np.uint64)
        )
    return np.asarray(a == b)
