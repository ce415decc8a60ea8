"""Model-agnostic Shapley values over a model's *input* columns, against a background.

Used when neither the exact linear contributions nor a tree explainer apply (a neural
network, a kernel model, a feature pipeline whose outputs cannot be traced back to input
columns). The value of a coalition ``S`` of input columns is the model's mean output over
background rows (a sample of the training rows) with the columns in ``S`` taken from the
record being explained — the interventional (marginal) Shapley value.

- Up to :data:`EXACT_MAX_COLUMNS` columns every coalition is evaluated: the exact
  Shapley values of that value function.
- Beyond, permutations are sampled (each with one background row, antithetic pairs, a
  fixed seed): an unbiased estimate, reproducible for the same inputs.

Either way the contributions add up exactly to the output minus the base value (the
mean output over the background rows used), so the explanation always sums to the
prediction it explains.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

EXACT_MAX_COLUMNS = 10
PERMUTATIONS = 64

# The model's scalar output for each row of a frame.
OutputFunction = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class ShapleyResult:
    contributions: np.ndarray  # (records, columns)
    base_values: np.ndarray  # (records,)
    outputs: np.ndarray  # (records,)
    exact: bool


def shapley_values(
    f: OutputFunction, frame: pd.DataFrame, background: pd.DataFrame, *, seed: int = 0
) -> ShapleyResult:
    """Shapley values of ``f`` for each row of ``frame`` (columns as in ``background``)."""
    n = frame.shape[1]
    rows = [
        _exact(f, frame.iloc[[i]], background)
        if n <= EXACT_MAX_COLUMNS
        else _sampled(f, frame.iloc[[i]], background, np.random.default_rng([seed, i]))
        for i in range(len(frame))
    ]
    return ShapleyResult(
        contributions=np.array([r[0] for r in rows]).reshape(len(frame), n),
        base_values=np.array([r[1] for r in rows], dtype=np.float64),
        outputs=np.array([r[2] for r in rows], dtype=np.float64),
        exact=n <= EXACT_MAX_COLUMNS,
    )


def _mixed(record: pd.DataFrame, background: pd.DataFrame, take: np.ndarray) -> pd.DataFrame:
    """Rows that are background rows with the columns where ``take`` is true from ``record``.

    ``take`` is (rows, columns) boolean; background rows repeat to fill the rows.
    """
    size = take.shape[0]
    reps = math.ceil(size / len(background))
    columns: dict[str, pd.Series] = {}
    for j, name in enumerate(background.columns):
        base = np.tile(background[name].to_numpy(dtype=object), reps)[:size]
        base[take[:, j]] = record[name].iloc[0]
        columns[name] = pd.Series(base).astype(background[name].dtype)
    return pd.DataFrame(columns)


def _exact(
    f: OutputFunction, record: pd.DataFrame, background: pd.DataFrame
) -> tuple[np.ndarray, float, float]:
    n, b = record.shape[1], len(background)
    masks = np.arange(2**n)
    members = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)  # (2^n, n)
    take = np.repeat(members, b, axis=0)
    values = f(_mixed(record, background, take)).reshape(2**n, b).mean(axis=1)
    output = float(f(record)[0])
    values[-1] = output  # the full coalition is the record itself, whatever the background
    sizes = members.sum(axis=1)
    weights = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    )
    phi = np.zeros(n)
    for i in range(n):
        without = ~members[:, i]
        with_i = masks[without] | (1 << i)
        phi[i] = np.sum(weights[sizes[without]] * (values[with_i] - values[without]))
    return phi, float(values[0]), output


def _sampled(
    f: OutputFunction, record: pd.DataFrame, background: pd.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, float, float]:
    n = record.shape[1]
    half = [rng.permutation(n) for _ in range(PERMUTATIONS // 2)]
    orders = [p for order in half for p in (order, order[::-1])]  # antithetic pairs
    picks = rng.integers(0, len(background), size=len(orders))
    # For each permutation: the background row, then one more input column from the
    # record at each step (n + 1 rows).
    steps = np.zeros((len(orders) * (n + 1), n), dtype=bool)
    for k, order in enumerate(orders):
        for step in range(1, n + 1):
            steps[k * (n + 1) + step, order[:step]] = True
    chosen = background.iloc[np.repeat(picks, n + 1)].reset_index(drop=True)
    values = f(_mixed(record, chosen, steps)).reshape(len(orders), n + 1)
    output = float(f(record)[0])
    values[:, -1] = output
    phi = np.zeros(n)
    for k, order in enumerate(orders):
        phi[order] += np.diff(values[k])
    phi /= len(orders)
    base = float(values[:, 0].mean())
    return phi, base, output
