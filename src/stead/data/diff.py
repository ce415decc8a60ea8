"""Differences between two snapshots, from their schemas and profiles alone."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stead.data.distribution import cdf_at, js_distance, psi
from stead.data.profile import ColumnProfile
from stead.data.snapshot import DatasetSnapshot

# Roles whose distribution change is not a finding, and what the diff says instead.
UNCOMPARED_ROLES = {
    "id": "an id column ([columns] id): new entities are expected",
    "time": "the time column ([columns] time): later times are expected",
}


@dataclass(frozen=True)
class ColumnChange:
    column: str
    statistic: str
    value: float
    before: dict[str, Any]
    after: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SnapshotDiff:
    a: str
    b: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    type_changes: list[dict[str, str]] = field(default_factory=list)
    distribution: list[ColumnChange] = field(default_factory=list)
    rows: tuple[int, int] = (0, 0)
    # Columns whose distribution is not compared, and why.
    not_compared: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "rows": list(self.rows),
            "added": self.added,
            "removed": self.removed,
            "type_changes": self.type_changes,
            "distribution": [c.to_dict() for c in self.distribution],
            "not_compared": self.not_compared,
        }


def diff_snapshots(a: DatasetSnapshot, b: DatasetSnapshot) -> SnapshotDiff:
    """Columns added and removed, kind changes and per-column distribution change.

    Numeric columns are compared by PSI on ``a``'s reference bins (``b``'s share per bin
    is read off its quantile grid); categorical columns by Jensen–Shannon distance. Id
    and time columns are not: new entities and later times are what a new snapshot
    holds, so their "drift" is always large and means nothing.
    """
    names_a, names_b = a.schema.names, b.schema.names
    common = [n for n in names_a if n in names_b]
    type_changes = []
    changes = []
    skipped: dict[str, str] = {}
    for name in common:
        col_a, col_b = a.schema.column(name), b.schema.column(name)
        if col_a.kind != col_b.kind:
            type_changes.append({"column": name, "before": col_a.kind, "after": col_b.kind})
            continue
        role = next((r for r in UNCOMPARED_ROLES if r in col_a.roles + col_b.roles), None)
        if role is not None:
            skipped[name] = UNCOMPARED_ROLES[role]
            continue
        change = _distribution_change(a.profile.column(name), b.profile.column(name))
        if change is not None:
            changes.append(change)
    return SnapshotDiff(
        a=a.ref,
        b=b.ref,
        added=[n for n in names_b if n not in names_a],
        removed=[n for n in names_a if n not in names_b],
        type_changes=type_changes,
        distribution=changes,
        rows=(a.rows, b.rows),
        not_compared=skipped,
    )


def _distribution_change(pa: ColumnProfile, pb: ColumnProfile) -> ColumnChange | None:
    if pa.bin_edges is not None and pa.bin_counts is not None and pb.quantiles:
        edges = np.asarray(pa.bin_edges)
        cdf = np.concatenate([[0.0], cdf_at(pb.quantiles, edges), [1.0]])
        expected_b = np.diff(cdf) * (pb.count - pb.missing)
        value = psi(np.asarray(pa.bin_counts), expected_b)
        return ColumnChange(pa.name, "psi", value, _numeric_summary(pa), _numeric_summary(pb))
    if pa.level_counts is not None and pb.level_counts is not None:
        value = js_distance(
            {k: float(v) for k, v in pa.level_counts.items()},
            {k: float(v) for k, v in pb.level_counts.items()},
        )
        return ColumnChange(pa.name, "js_distance", value, _levels(pa), _levels(pb))
    return None


def _numeric_summary(p: ColumnProfile) -> dict[str, Any]:
    return {"mean": p.mean, "std": p.std, "missing_rate": p.missing_rate}


def _levels(p: ColumnProfile) -> dict[str, Any]:
    return {"levels": len(p.level_counts or {}), "missing_rate": p.missing_rate}
