"""What a drift check found: per statistic, per column, per window.

All records are frozen dataclasses with ``to_dict`` (plain JSON types), so a monitor can
store a report as the evidence behind an alert and show it again unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from stead.monitoring.drift.thresholds import DriftConfig

Status = Literal["ok", "drifted", "insufficient_data", "missing", "type_mismatch"]
ColumnKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class StatisticResult:
    """One statistic on one column.

    Attributes:
        name: ``psi``, ``wasserstein``, ``ks``, ``js_distance``, ``chi_square`` or
            ``unseen_rate``.
        value: the statistic (for a test, its test statistic), or ``None`` when it is
            undefined for this column (e.g. Wasserstein on a constant reference).
        threshold: the effect size that counts as a shift, or for a test the p-value
            below which the difference is significant.
        crossed: whether ``value`` (or ``p_value``) crossed ``threshold``. In a small
            window an effect that crossed its threshold is only drift if a test agrees.
        p_value: the test's p-value; ``None`` for effect sizes.
    """

    name: str
    value: float | None
    threshold: float
    crossed: bool
    p_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "crossed": self.crossed,
        }
        if self.p_value is not None:
            body["p_value"] = self.p_value
        return body


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column (a feature or a model output) for one window.

    Attributes:
        column: the column's name.
        kind: ``numeric`` or ``categorical`` (how it was compared).
        status: ``drifted``, ``ok``, ``insufficient_data`` (too few values in the window
            or none in the reference), ``missing`` (not in the window) or
            ``type_mismatch`` (the window's values cannot be compared with the reference).
        rows: rows in the window.
        missing: values that could not be used (null, and for numeric NaN or infinite).
        statistics: every statistic computed, in a fixed order.
        flagged_by: names of the statistics behind a ``drifted`` verdict; empty otherwise.
        reason: why a column has no verdict (``insufficient_data``, ``missing``,
            ``type_mismatch``), in words a user can act on.
    """

    column: str
    kind: ColumnKind
    status: Status
    rows: int = 0
    missing: int = 0
    statistics: tuple[StatisticResult, ...] = ()
    flagged_by: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def drifted(self) -> bool:
        return self.status == "drifted"

    def statistic(self, name: str) -> StatisticResult:
        for result in self.statistics:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "status": self.status,
            "rows": self.rows,
            "missing": self.missing,
            "statistics": [s.to_dict() for s in self.statistics],
            "flagged_by": list(self.flagged_by),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of one window against a reference profile.

    Attributes:
        rows: rows in the window.
        reference_rows: rows the reference profile was computed from.
        columns: one verdict per compared column, in the order asked for.
        config: the thresholds the verdicts were reached with.
    """

    rows: int
    reference_rows: int
    columns: tuple[ColumnDrift, ...]
    config: DriftConfig = field(default_factory=DriftConfig)

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def insufficient_features(self) -> list[str]:
        return [c.column for c in self.columns if c.status == "insufficient_data"]

    @property
    def missing_features(self) -> list[str]:
        return [c.column for c in self.columns if c.status == "missing"]

    @property
    def drifted(self) -> bool:
        return any(c.drifted for c in self.columns)

    def column(self, name: str) -> ColumnDrift:
        for column in self.columns:
            if column.column == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "drifted_features": self.drifted_features,
            "insufficient_features": self.insufficient_features,
            "missing_features": self.missing_features,
            "config": self.config.to_dict(),
            "columns": [c.to_dict() for c in self.columns],
        }
