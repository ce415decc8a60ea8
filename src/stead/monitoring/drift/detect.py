"""Drift of a window against a snapshot's reference profile, column by column.

The reference is the :class:`~stead.data.profile.Profile` stored with the training
snapshot, so the cost of a window depends on the window alone: one pass per column
(bin counts and quantiles, or level counts), then every statistic on a few small arrays.

A column's verdict:

- ``insufficient_data`` when the window has fewer than ``min_rows`` usable values (or the
  reference has none): too little to tell drift from chance, so no guess is made;
- otherwise ``drifted`` when an effect size crosses its threshold, and, in a small
  window (effective size ``n·N/(n+N) ≤ small_window``), the column's test (KS or
  chi-square) also finds the difference significant. Large windows skip the tests: at a
  million rows every real difference, however small, is "significant".

Example:
    >>> import numpy as np
    >>> import pandas as pd
    >>> from stead.data.profile import Profile, profile_column
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"age": rng.normal(40, 10, 20_000)})
    >>> profile = Profile(rows=20_000, columns=[profile_column(train["age"], "float", bins=20)])
    >>> window = pd.DataFrame({"age": rng.normal(48, 10, 20_000)})
    >>> detect_drift(profile, window).drifted_features
    ['age']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from stead.data.profile import ColumnProfile, Profile
from stead.data.schema import NUMERIC_KINDS
from stead.monitoring.drift.column_pass import (
    CategoricalWindow,
    NumericWindow,
    numeric_values,
    summarise_categorical,
    summarise_numeric,
)
from stead.monitoring.drift.errors import DriftInputError
from stead.monitoring.drift.report import ColumnDrift, ColumnKind, DriftReport
from stead.monitoring.drift.statistics import (
    DriftStatistic,
    categorical_statistics,
    numeric_statistics,
)
from stead.monitoring.drift.thresholds import DriftConfig

_CATEGORICAL_KINDS = ("string", "bool")


def comparable(reference: ColumnProfile) -> bool:
    """Whether a profiled column has the statistics drift needs (datetimes have none)."""
    return reference.kind in NUMERIC_KINDS or reference.kind in _CATEGORICAL_KINDS


def detect_drift(
    profile: Profile,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Compares a window of current data with a reference profile.

    Args:
        profile: the reference profile (of the training snapshot, or of model outputs).
        current: the window's rows; extra columns are ignored.
        columns: the columns to compare; by default every profiled numeric or
            categorical column.
        config: thresholds; ``DriftConfig()`` by default.

    Returns:
        One verdict per column. Columns absent from ``current`` get status ``missing``.
        An empty window is not an error: every column is ``insufficient_data``.

    Raises:
        DriftInputError: a requested column is not in the profile, or has no drift
            statistics (a datetime column).
    """
    config = config or DriftConfig()
    references = _references(profile, columns)
    results = tuple(
        detect_column_drift(reference, current.get(reference.name), config=config)
        for reference in references
    )
    return DriftReport(
        rows=len(current), reference_rows=profile.rows, columns=results, config=config
    )


def detect_column_drift(
    reference: ColumnProfile, current: pd.Series | None, *, config: DriftConfig | None = None
) -> ColumnDrift:
    """The verdict on one column: a feature, or a model output (see ``prediction``).

    Args:
        reference: the column's reference profile.
        current: the window's values, or ``None`` when the window lacks the column.
        config: thresholds; ``DriftConfig()`` by default.

    Raises:
        DriftInputError: the reference kind has no drift statistics.
    """
    config = config or DriftConfig()
    kind = _kind(reference)
    if current is None:
        return ColumnDrift(
            reference.name,
            kind,
            "missing",
            reason=f"column {reference.name!r} is not in the window; check the logged inputs",
        )
    if kind == "numeric":
        values = numeric_values(current)
        if values is None:
            return ColumnDrift(
                reference.name,
                kind,
                "type_mismatch",
                rows=len(current),
                reason=(
                    f"column {reference.name!r} was {reference.kind} in the reference but is "
                    f"{current.dtype} in the window"
                ),
            )
        numeric = summarise_numeric(values, reference)
        return _verdict(reference, kind, numeric, numeric_statistics(config), config)
    categorical = summarise_categorical(current, reference)
    return _verdict(reference, kind, categorical, categorical_statistics(config), config)


def _verdict(
    reference: ColumnProfile,
    kind: ColumnKind,
    window: NumericWindow | CategoricalWindow,
    statistics: Sequence[DriftStatistic[Any]],
    config: DriftConfig,
) -> ColumnDrift:
    base: dict[str, Any] = {"rows": window.rows, "missing": window.missing}
    # The values the reference's statistics were computed from (finite ones for numbers).
    if kind == "numeric":
        n_ref = sum(reference.bin_counts or [])
    else:
        n_ref = sum((reference.level_counts or {}).values())
    if n_ref == 0:
        reason = f"the reference has no values in column {reference.name!r}"
        return ColumnDrift(reference.name, kind, "insufficient_data", **base, reason=reason)
    n = window.count
    if n < config.min_rows:
        reason = (
            f"{n} usable value(s) in the window, fewer than min_rows={config.min_rows}; "
            "use a longer window or lower min_rows"
        )
        return ColumnDrift(reference.name, kind, "insufficient_data", **base, reason=reason)
    small = n * n_ref / (n + n_ref) <= config.small_window
    used = [s for s in statistics if small or not s.is_test]
    results = [statistic.measure(reference, window) for statistic in used]
    effects = [r.name for r, s in zip(results, used, strict=True) if r.crossed and not s.is_test]
    tests = [r.name for r, s in zip(results, used, strict=True) if r.crossed and s.is_test]
    drifted = bool(effects) and (bool(tests) or not small)
    return ColumnDrift(
        reference.name,
        kind,
        "drifted" if drifted else "ok",
        **base,
        statistics=tuple(results),
        flagged_by=tuple(effects + tests) if drifted else (),
    )


def _kind(reference: ColumnProfile) -> ColumnKind:
    if reference.kind in NUMERIC_KINDS:
        return "numeric"
    if reference.kind in _CATEGORICAL_KINDS:
        return "categorical"
    raise DriftInputError(
        f"column {reference.name!r} is {reference.kind}; drift is measured on numeric and "
        "categorical columns only — leave it out of columns=",
        details={"column": reference.name, "kind": reference.kind},
    )


def _references(profile: Profile, columns: Sequence[str] | None) -> list[ColumnProfile]:
    if columns is None:
        return [c for c in profile.columns if comparable(c)]
    if isinstance(columns, str):
        columns = [columns]
    known = {c.name: c for c in profile.columns}
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise DriftInputError(
            f"column(s) {', '.join(map(repr, unknown))} are not in the reference profile; "
            f"profiled columns: {', '.join(known)}",
            details={"unknown": unknown},
        )
    return [known[name] for name in columns]
