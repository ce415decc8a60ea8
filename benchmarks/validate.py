"""Contract validation throughput: cells validated per second on one core.

1,000,000 rows × 50 columns (40 numeric, 10 categorical), validated against the contract
of a snapshot of the same shape, as ``ws.datasets.validate`` does. Reports the median of
several runs for clean data (the common case) and for data with violations in every
column (the path that also collects row numbers).

    python benchmarks/validate.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

# One core, as the goal is stated per core.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stead.core.settings import ColumnRoles, ValidationSettings  # noqa: E402
from stead.data.contract import Contract, validate  # noqa: E402
from stead.data.schema import infer_schema  # noqa: E402

NUMERIC, CATEGORICAL = 40, 10


def make_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(NUMERIC):
        if i % 2:
            data[f"n{i}"] = rng.normal(i, 1 + i / 10, rows)
        else:
            data[f"n{i}"] = rng.integers(0, 1000, rows)
    levels = np.array([f"level_{k}" for k in range(20)])
    for i in range(CATEGORICAL):
        data[f"c{i}"] = pd.array(levels[rng.integers(0, 20, rows)], dtype="str")
    return pd.DataFrame(data)


def spoil(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame.copy()
    for name in bad.columns:
        if name.startswith("n"):
            bad.loc[::1000, name] = 10**9
        else:
            bad.loc[::1000, name] = "never_seen"
    return bad


def time_validate(frame: pd.DataFrame, contract: Contract, repeat: int) -> tuple[float, int]:
    times, violations = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        report = validate(frame, contract, policy=ValidationSettings())
        times.append(time.perf_counter() - start)
        violations = len(report.violations)
    return statistics.median(times), violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    reference = make_frame(args.rows, seed=1)
    schema = infer_schema(reference, roles=ColumnRoles(), max_levels=50)
    contract = Contract.from_schema(schema)
    current = make_frame(args.rows, seed=1)
    spoiled = spoil(current)
    cells = args.rows * (NUMERIC + CATEGORICAL)

    print(f"{args.rows:,} rows × {NUMERIC + CATEGORICAL} columns = {cells:,} cells, one core")
    print(f"{'case':<26}{'median s':>10}{'cells/s':>16}{'violations':>12}")
    for label, frame in (("clean data", current), ("violations in every column", spoiled)):
        seconds, found = time_validate(frame, contract, args.repeat)
        print(f"{label:<26}{seconds:>10.3f}{cells / seconds:>16,.0f}{found:>12}")


if __name__ == "__main__":
    main()
