"""Leakage checks: wall time of the data checks a training runs before it fits.

Generates a regression and a binary task of ROWS × FEATURES numeric features (plus an
id column and a time column), splits them 80/20 at random, and times
:func:`stead.features.leakage.check_leakage` with the default settings (target,
combination, contamination, forbidden columns), then each check alone, and the
combination check when it has a leak to find (``y = x0 + x1``: the column selection
runs). Prints the median and the maximum over ``--repeat`` runs.

    python benchmarks/leakage.py [--rows 10000] [--features 20] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from stead.features.leakage import (
    LeakageInputs,
    LeakageSettings,
    check_leakage,
    combination_leakage,
    split_contamination,
    target_leakage,
)


def frame(rows: int, features: int, task: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    data = pd.DataFrame(X, columns=[f"x{i}" for i in range(features)])
    signal = X[:, : min(5, features)].sum(axis=1) + rng.normal(0.0, 2.0, rows)
    data["y"] = (signal > 0).astype(int) if task == "binary" else signal
    data["id"] = np.arange(rows)
    data["t"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(rows), unit="min")
    return data


def timed(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def bench(task: str, rows: int, features: int, repeat: int) -> None:
    settings = LeakageSettings()
    data = frame(rows, features, task)
    order = np.random.default_rng(1).permutation(rows)
    cut = int(rows * 0.8)
    inputs = LeakageInputs(
        frame=data,
        train=np.sort(order[:cut]),
        eval=np.sort(order[cut:]),
        task=task,  # type: ignore[arg-type]
        target="y",
        features=[f"x{i}" for i in range(features)],
        id_column="id",
        time_column="t",
    )
    checks: dict[str, Callable[[], object]] = {
        "all (defaults)": partial(check_leakage, inputs, settings),
        "target": partial(target_leakage, inputs, settings),
        "contamination": partial(split_contamination, inputs),
    }
    if task == "regression":
        checks["combination"] = partial(combination_leakage, inputs, settings)
        # The slow path: a leak to find, y = x0 + x1, so the selection runs.
        leaky = data.assign(y=data["x0"] + data["x1"])
        found = LeakageInputs(**{**inputs.__dict__, "frame": leaky})
        checks["combination (leak)"] = partial(combination_leakage, found, settings)
    for name, function in checks.items():
        median, worst = timed(function, repeat)
        print(f"{task:<11} {name:<22} {median:>9.3f} {worst:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.rows} rows × {args.features} numeric features, {args.repeat} runs each")
    print(f"{'task':<11} {'check':<22} {'median s':>9} {'max s':>9}")
    for task in ("regression", "binary"):
        bench(task, args.rows, args.features, args.repeat)


if __name__ == "__main__":
    main()
