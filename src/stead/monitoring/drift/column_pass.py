"""One pass over a window's column: the few numbers every drift statistic needs.

A numeric column becomes its counts in the reference bins and its quantiles on the
profile's grid; a categorical column becomes its counts per reference level plus one
bucket for levels the reference never saw. Statistics then work on these small arrays,
so adding a statistic does not add a pass over the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stead.data.distribution import QUANTILE_GRID, bin_counts
from stead.data.profile import OTHER_LEVEL, ColumnProfile

# Levels of a window that the reference does not know are pooled under this name. Pooling
# leaves the Jensen–Shannon distance unchanged (each unseen level contributes its own share
# either way) and keeps the work proportional to the reference's levels, not the window's.
UNSEEN_LEVEL = "__unseen__"

# Up to this many edges, counting ``values <= edge`` per edge (a vectorised compare) beats
# a binary search per value about tenfold; beyond it the search's log(edges) wins.
_COMPARE_EDGES_LIMIT = 64


@dataclass(frozen=True)
class NumericWindow:
    """A window's numeric column, summarised against the reference's bin edges.

    Attributes:
        rows: rows in the window.
        missing: values the statistics cannot use (null, NaN or infinite).
        bin_counts: counts per reference bin (``len(bin_edges) + 1`` bins).
        quantiles: the window's quantiles on the profile grid (``QUANTILE_GRID``), or
            ``None`` when it has no usable value.
    """

    rows: int
    missing: int
    bin_counts: np.ndarray
    quantiles: np.ndarray | None

    @property
    def count(self) -> int:
        """Usable values."""
        return self.rows - self.missing


@dataclass(frozen=True)
class CategoricalWindow:
    """A window's categorical column as counts per reference level.

    Attributes:
        rows: rows in the window.
        missing: null values.
        level_counts: counts per level; levels the reference never saw are pooled under
            ``UNSEEN_LEVEL``, or under ``__other__`` when the reference itself pooled its
            rare levels there (then a level outside the kept ones may not be new).
    """

    rows: int
    missing: int
    level_counts: dict[str, int]

    @property
    def count(self) -> int:
        return self.rows - self.missing


def numeric_values(column: pd.Series) -> np.ndarray | None:
    """The column as float64 (a view when it already is), or ``None`` if it is not numeric."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return None
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def cumulative_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin for inner ``edges``, equal to ``distribution.bin_counts``.

    Bin ``i`` holds ``(e_{i-1}, e_i]``, so ``count(values <= e_i)`` is the number in bins
    ``0..i``. ``values`` must be finite.
    """
    if edges.size > _COMPARE_EDGES_LIMIT:
        return bin_counts(values, edges)
    below = np.fromiter(
        (np.count_nonzero(values <= edge) for edge in edges), dtype=np.int64, count=edges.size
    )
    return np.diff(below, prepend=0, append=values.size)


def summarise_numeric(values: np.ndarray, reference: ColumnProfile) -> NumericWindow:
    """Bins a window's values on the reference's edges and takes its quantiles."""
    edges = np.asarray(reference.bin_edges or [], dtype=np.float64)
    finite = np.isfinite(values)
    # Copy only when something must be dropped: most windows are complete.
    usable = values if finite.all() else values[finite]
    quantiles = np.quantile(usable, QUANTILE_GRID) if usable.size else None
    return NumericWindow(
        rows=int(values.size),
        missing=int(values.size - usable.size),
        bin_counts=cumulative_counts(usable, edges),
        quantiles=quantiles,
    )


def summarise_categorical(column: pd.Series, reference: ColumnProfile) -> CategoricalWindow:
    """Counts a window's levels, named as the profile names them (booleans ``true``/``false``)."""
    counts = column.value_counts(dropna=True, sort=False)
    labels = counts.index.astype(str)
    if reference.kind == "bool":
        # The profile writes booleans as true/false; a bool column with nulls arrives as
        # object dtype whose values print as True/False.
        labels = labels.str.lower()
    known = reference.level_counts or {}
    pool = OTHER_LEVEL if OTHER_LEVEL in known else UNSEEN_LEVEL
    keys = labels.where(labels.isin(list(known)), pool)
    # Grouping works on the levels, not the rows, so this stays cheap for any window.
    grouped = pd.Series(counts.to_numpy(), index=keys).groupby(level=0, sort=True).sum()
    level_counts = {str(k): int(v) for k, v in grouped.items()}
    rows = len(column)
    return CategoricalWindow(
        rows=rows, missing=rows - sum(level_counts.values()), level_counts=level_counts
    )
