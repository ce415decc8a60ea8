"""Small, deterministic tables for data tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def small_frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "age": rng.integers(18, 80, rows),
            "income": rng.normal(50_000, 12_000, rows).round(2),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "defaulted": rng.integers(0, 2, rows).astype(bool),
        }
    )
