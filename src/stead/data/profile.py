"""Profiles: per-column reference statistics, kept so drift never re-reads the data.

A numeric column keeps count, missing rate, mean, std, a 101-point quantile grid and
equal-frequency reference bins with counts; a categorical one keeps its level counts.
A PII column keeps only its count, missing count and distinct count: no value, no
statistic of values. Monitors compare each new window against these numbers alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from stead.data.distribution import QUANTILE_GRID
from stead.data.schema import Schema

# Categorical columns keep at most this many level counts; the rest are summed as other.
MAX_PROFILE_LEVELS = 200
OTHER_LEVEL = "__other__"


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    kind: str
    count: int
    missing: int
    unique: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: list[float] | None = None
    bin_edges: list[float] | None = None
    bin_counts: list[int] | None = None
    level_counts: dict[str, int] | None = None

    @property
    def missing_rate(self) -> float:
        return self.missing / self.count if self.count else 0.0

    def quantile(self, q: float) -> float | None:
        if not self.quantiles:
            return None
        return float(np.interp(q, QUANTILE_GRID, self.quantiles))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    rows: int
    columns: list[ColumnProfile]

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        return cls(rows=data["rows"], columns=[ColumnProfile(**c) for c in data["columns"]])


def profile_frame(frame: pd.DataFrame, schema: Schema, *, bins: int) -> Profile:
    return Profile(
        rows=len(frame),
        columns=[
            counts_only(frame[c.name], c.kind)
            if c.is_pii
            else profile_column(frame[c.name], c.kind, bins=bins)
            for c in schema.columns
        ],
    )


def counts_only(column: pd.Series, kind: str) -> ColumnProfile:
    """A PII column's profile: how many values, how many missing, how many distinct."""
    return ColumnProfile(
        name=str(column.name),
        kind=kind,
        count=len(column),
        missing=int(column.isna().sum()),
        unique=int(column.nunique(dropna=True)),
    )


def profile_column(column: pd.Series, kind: str, *, bins: int) -> ColumnProfile:
    count = len(column)
    missing = int(column.isna().sum())
    values = column.dropna()
    base: dict[str, Any] = {
        "name": str(column.name),
        "kind": kind,
        "count": count,
        "missing": missing,
        "unique": 0,
    }
    if kind in ("int", "float"):
        array = values.to_numpy(dtype=np.float64)
        # One sort serves every statistic: quantiles are read off by position, bin counts
        # by binary search of the edges, distinct values by adjacent differences.
        ordered = np.sort(array[np.isfinite(array)])
        if ordered.size == 0:
            return ColumnProfile(**base)
        base["unique"] = int(np.count_nonzero(np.diff(ordered)) + 1)
        edges = np.unique(sorted_quantiles(ordered, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
        below = np.searchsorted(ordered, edges, side="right")
        return ColumnProfile(
            **base,
            mean=float(ordered.mean()),
            std=float(ordered.std()),
            min=float(ordered[0]),
            max=float(ordered[-1]),
            quantiles=[float(v) for v in sorted_quantiles(ordered, QUANTILE_GRID)],
            bin_edges=[float(e) for e in edges],
            bin_counts=[int(n) for n in np.diff(below, prepend=0, append=ordered.size)],
        )
    base["unique"] = int(values.nunique())
    if kind in ("string", "bool"):
        return ColumnProfile(**base, level_counts=level_counts(values))
    return ColumnProfile(**base)


def sorted_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of an already sorted array (numpy's default "linear" method)."""
    position = q * (ordered.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, ordered.size - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def level_counts(values: pd.Series, *, limit: int = MAX_PROFILE_LEVELS) -> dict[str, int]:
    """Counts per level (booleans as ``true``/``false``), the rarest folded into other."""
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.map({True: "true", False: "false"})
    counts = values.astype(str).value_counts()
    kept = {str(k): int(v) for k, v in counts.head(limit).items()}
    rest = int(counts.iloc[limit:].sum())
    if rest:
        kept[OTHER_LEVEL] = rest
    return kept
