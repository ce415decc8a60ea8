"""Data contracts and vectorised validation.

A :class:`Contract` says what a table must look like: its columns, their kinds, which may
be null, their ranges and their known levels. :func:`validate` checks a whole DataFrame
column by column with array operations (never row by row) and reports every violation
with the column, the count and the first few row positions (0-based). Messages quote a
few offending values, except for PII columns, whose values are never repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from stead.core.errors import ContractViolation
from stead.core.settings import ValidationSettings
from stead.data.schema import NUMERIC_KINDS, Kind, Schema

Severity = Literal["error", "warning"]
ViolationKind = Literal[
    "missing_column",
    "unexpected_column",
    "wrong_type",
    "null_values",
    "out_of_range",
    "unseen_category",
]
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class ColumnContract:
    """One column's rules; ``pii`` columns carry no range or levels and are never quoted."""

    name: str
    kind: Kind
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    levels: list[str] | None = None
    pii: bool = False

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        # Only when set, so contracts signed before the flag existed hash as they did.
        if not self.pii:
            del body["pii"]
        return body


@dataclass(frozen=True)
class Contract:
    """What a table must look like. ``allow_extra`` permits columns the contract omits."""

    columns: list[ColumnContract]
    allow_extra: bool = False
    source: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def from_schema(
        cls, schema: Schema, *, columns: list[str] | None = None, source: str | None = None
    ) -> Contract:
        """The contract a snapshot's schema implies, optionally for some columns only."""
        wanted = schema.names if columns is None else columns
        chosen = []
        for name in wanted:
            col = schema.column(name)
            numeric = col.kind in NUMERIC_KINDS and not col.is_pii
            chosen.append(
                ColumnContract(
                    name=col.name,
                    kind=col.kind,
                    nullable=col.nullable,
                    min=float(col.min) if numeric and col.min is not None else None,
                    max=float(col.max) if numeric and col.max is not None else None,
                    levels=list(col.levels) if col.levels is not None and not col.is_pii else None,
                    pii=col.is_pii,
                )
            )
        return cls(columns=chosen, source=source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "allow_extra": self.allow_extra,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contract:
        return cls(
            columns=[ColumnContract(**c) for c in data["columns"]],
            allow_extra=data.get("allow_extra", False),
            source=data.get("source"),
        )


@dataclass(frozen=True)
class Violation:
    column: str
    kind: ViolationKind
    count: int
    rows: list[int]
    message: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    columns: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def cells(self) -> int:
        return self.rows * self.columns

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "columns": self.columns,
            "violations": [v.to_dict() for v in self.violations],
        }

    def summary(self) -> str:
        if not self.violations:
            return f"{self.rows} rows × {self.columns} columns satisfy the contract"
        lines = [v.message for v in self.violations]
        verdict = "fails" if not self.ok else "passes with warnings"
        return f"data {verdict} the contract:\n  " + "\n  ".join(lines)

    def raise_for_errors(self) -> None:
        if not self.ok:
            raise ContractViolation(self.summary(), details=self.to_dict())


def validate(
    frame: pd.DataFrame, contract: Contract, *, policy: ValidationSettings | None = None
) -> ValidationReport:
    """Check ``frame`` against ``contract``; every violation is reported, none raised."""
    policy = policy or ValidationSettings()
    violations: list[Violation] = []
    present = set(frame.columns)
    for col in contract.columns:
        if col.name not in present:
            violations.append(
                Violation(
                    col.name, "missing_column", len(frame), [], f"column {col.name!r} is missing"
                )
            )
    if not contract.allow_extra:
        expected = set(contract.names)
        for name in frame.columns:
            if name not in expected:
                violations.append(
                    Violation(
                        str(name),
                        "unexpected_column",
                        len(frame),
                        [],
                        f"column {name!r} is not in the contract",
                    )
                )
    for col in contract.columns:
        if col.name in present:
            violations.extend(_check_column(frame[col.name], col, policy))
    return ValidationReport(rows=len(frame), columns=len(contract.columns), violations=violations)


def _rows(mask: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)[:EXAMPLE_ROWS]]


def _listed(rows: list[int], count: int) -> str:
    more = "" if count <= len(rows) else ", ..."
    return "rows " + ", ".join(str(r) for r in rows) + more


def _check_column(
    series: pd.Series, col: ColumnContract, policy: ValidationSettings
) -> list[Violation]:
    out: list[Violation] = []
    null_mask = series.isna().to_numpy()
    nulls = int(null_mask.sum())
    if nulls and not col.nullable:
        rows = _rows(null_mask)
        out.append(
            Violation(
                col.name,
                "null_values",
                nulls,
                rows,
                f"column {col.name!r} has {nulls} null values where none are allowed "
                f"({_listed(rows, nulls)})",
            )
        )
    if col.kind in NUMERIC_KINDS:
        out.extend(_check_numeric(series, col, null_mask, policy))
    elif col.kind in ("string", "bool"):
        out.extend(_check_categorical(series, col, null_mask, policy))
    elif col.kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = pd.to_datetime(series, errors="coerce", utc=True)
        bad = parsed.isna().to_numpy() & ~null_mask
        if bad.any():
            out.append(_wrong_type(col, series, bad, "timestamps"))
    return out


def _examples(col: ColumnContract, values: Any) -> str:
    """A few offending values for a message: ``: 'a', 'b'``, or nothing for PII."""
    if col.pii:
        return " (values not shown: PII column)"
    return ": " + ", ".join(values)


def _wrong_type(col: ColumnContract, series: pd.Series, bad: np.ndarray, wanted: str) -> Violation:
    count = int(bad.sum())
    rows = _rows(bad)
    examples = _examples(col, (repr(series.iloc[r]) for r in rows[:3]))
    return Violation(
        col.name,
        "wrong_type",
        count,
        rows,
        f"column {col.name!r} expected {wanted} ({col.kind}), got {series.dtype} with "
        f"{count} bad values in {_listed(rows, count)}{examples}",
    )


def _check_numeric(
    series: pd.Series, col: ColumnContract, null_mask: np.ndarray, policy: ValidationSettings
) -> list[Violation]:
    out: list[Violation] = []
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        numbers = (
            pd.to_numeric(series, errors="coerce")
            if not pd.api.types.is_bool_dtype(dtype)
            else None
        )
        if numbers is None:
            return [_wrong_type(col, series, ~null_mask, "numbers")]
        bad = numbers.isna().to_numpy() & ~null_mask
        if bad.any():
            out.append(_wrong_type(col, series, bad, "numbers"))
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if col.kind == "int" and pd.api.types.is_float_dtype(dtype):
        fractional = np.isfinite(values) & (values != np.round(values))
        if fractional.any():
            out.append(_wrong_type(col, series, fractional, "whole numbers"))
    if col.min is not None and col.max is not None:
        slack = policy.range_tolerance * (col.max - col.min)
        low, high = col.min - slack, col.max + slack
        with np.errstate(invalid="ignore"):
            outside = (values < low) | (values > high)
        count = int(outside.sum())
        if count:
            rows = _rows(outside)
            rate = count / max(len(values), 1)
            severity: Severity = "warning" if rate <= policy.max_out_of_range_rate else "error"
            examples = _examples(col, (f"{values[r]:g}" for r in rows[:3]))
            out.append(
                Violation(
                    col.name,
                    "out_of_range",
                    count,
                    rows,
                    f"column {col.name!r} has {count} values outside "
                    f"[{low:g}, {high:g}] ({_listed(rows, count)}{examples})",
                    severity,
                )
            )
    return out


def _check_categorical(
    series: pd.Series, col: ColumnContract, null_mask: np.ndarray, policy: ValidationSettings
) -> list[Violation]:
    dtype = series.dtype
    if col.kind == "bool":
        if pd.api.types.is_bool_dtype(dtype):
            return []
        return [_wrong_type(col, series, ~null_mask, "true/false")]
    if not (pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)):
        return [_wrong_type(col, series, ~null_mask, "text")]
    if col.levels is None:
        return []
    unseen = ~series.isin(col.levels).to_numpy() & ~null_mask
    count = int(unseen.sum())
    if not count:
        return []
    rows = _rows(unseen)
    values = pd.unique(series[unseen])
    examples = _examples(col, (repr(v) for v in values[:3]))
    return [
        Violation(
            col.name,
            "unseen_category",
            count,
            rows,
            f"column {col.name!r} has {count} values not seen in the reference "
            f"({_listed(rows, count)}){examples}",
            "error" if policy.unseen_categories == "error" else "warning",
        )
    ]
