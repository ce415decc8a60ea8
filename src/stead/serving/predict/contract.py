"""Contracts at the edge: a request's JSON checked against a version's input contract and
turned into typed column arrays, before the model runs.

:func:`stead.data.contract.validate` checks DataFrames, and building a DataFrame for one
record costs more than everything else a request does (about 0.2 ms for 20 columns). So
the server compiles each version's contract once into an :class:`EdgeContract` that goes
from the JSON values straight to NumPy: all numeric fields of a request become one
float64 matrix in one call, and every check (types, nulls, whole numbers, ranges) is an
array operation on it; text and boolean fields are checked per column. The rules and
the report are those of the data contract (:class:`~stead.data.contract.Violation`,
same ``kind`` names), with the record index where the data contract says row:

- ``missing_column`` / ``unexpected_column``: a field the contract has that a record
  lacks, or one it does not know (besides the ``[columns] id`` entity key);
- ``wrong_type``: text or true/false for a number, a fraction for a whole number, a
  number for text, an infinite number ...;
- ``null_values``: null (or NaN) where the contract allows none;
- ``out_of_range``: above or below the training range (widened by ``[validation]
  range_tolerance``), one violation per field and side; a warning unless
  ``[serving] out_of_range = "error"``;
- ``unseen_category``: text never seen in training; an error unless ``[validation]
  unseen_categories = "warn"``.

Every violation of a request is reported at once, in a 422 with code
``contract_violation``; warnings travel with the answer, and the batch says which
records were served outside the range (:attr:`EdgeBatch.out_of_range`) for the log.

Why out of range is served but infinity is not: a finite value past the training
maximum (the riskiest customers, a hot day) is a real input the model can score and
whose answer the caller needs; it is flagged so nobody mistakes it for a routine one.
``Infinity`` (which Python's JSON parser accepts) or a NaN where nulls are not allowed
is no measurement at all: it is malformed and always refused, whatever the setting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stead.core.errors import ContractViolation, UsageError
from stead.core.settings import ValidationSettings
from stead.data.contract import EXAMPLE_ROWS, ColumnContract, Contract, Violation
from stead.data.schema import NUMERIC_KINDS
from stead.serving.errors import Unprocessable

NUMBER_TYPES = frozenset({int, float})
FLOAT_MAX = float(np.finfo(np.float64).max)
NONE = type(None)
_WANTED = {
    "int": "whole numbers",
    "float": "numbers",
    "string": "text",
    "bool": "true/false",
    "datetime": "ISO 8601 timestamps",
}


@dataclass(frozen=True)
class EdgeBatch:
    """A request's records, checked: typed arrays for the model, raw records for the log.

    Attributes:
        rows: how many records.
        arrays: the contract's columns, as float64 (numbers), object (text), bool or
            datetime64 arrays.
        records: each record as received (the log keeps these, sanitized).
        warnings: violations the policy lets through.
        out_of_range: record (its index in the batch) → the fields it carried outside
            the training range and was served with; records within range are absent.
    """

    rows: int
    arrays: dict[str, np.ndarray]
    records: Callable[[], list[dict[str, Any]]]
    warnings: list[Violation] = field(default_factory=list)
    out_of_range: dict[int, list[str]] = field(default_factory=dict)

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        """The records as a DataFrame of ``columns`` (for code that needs one)."""
        return pd.DataFrame({name: self.arrays[name] for name in columns}, copy=False)


class EdgeContract:
    """One version's input contract, compiled for requests.

    Args:
        contract: the version's input contract.
        policy: ``[validation]``: range tolerance and what unseen categories are.
        out_of_range: ``"warn"`` or ``"error"`` (``[serving] out_of_range``).
        extra: fields a record may carry besides the contract's (the entity key).
        model: the version's name, for messages.
    """

    def __init__(
        self,
        contract: Contract,
        *,
        policy: ValidationSettings,
        out_of_range: str = "warn",
        extra: Sequence[str] = (),
        model: str = "the model",
    ) -> None:
        self.contract = contract
        self.model = model
        self.names = list(contract.names)
        self._required = frozenset(self.names)
        self._allowed = self._required | frozenset(extra)
        self._columns = {c.name: c for c in contract.columns}
        self._numeric = [c for c in contract.columns if c.kind in NUMERIC_KINDS]
        self._other = [c for c in contract.columns if c.kind not in NUMERIC_KINDS]
        slack = np.array(
            [
                policy.range_tolerance * (c.max - c.min)
                if c.min is not None and c.max is not None
                else 0.0
                for c in self._numeric
            ]
        )
        self._low = np.array([c.min if c.min is not None else -np.inf for c in self._numeric])
        self._high = np.array([c.max if c.max is not None else np.inf for c in self._numeric])
        self._low = self._low - slack
        self._high = self._high + slack
        self._numeric_names = [c.name for c in self._numeric]
        self._low_col, self._high_col = self._low[:, None], self._high[:, None]
        self._bounded = bool(np.isfinite(self._low).all() and np.isfinite(self._high).all())
        self._whole = np.array([c.kind == "int" for c in self._numeric], dtype=bool)
        self._any_whole = bool(self._whole.any())
        self._nullable = np.array([c.nullable for c in self._numeric], dtype=bool)
        self._range_severity = "warning" if out_of_range == "warn" else "error"
        self._unseen_severity = "warning" if policy.unseen_categories == "warn" else "error"
        self._levels = {c.name: frozenset(c.levels) for c in self._other if c.levels is not None}

    # -- the two request forms ------------------------------------------------------

    def check_records(
        self, records: Sequence[Any], positions: Sequence[int] | None = None
    ) -> EdgeBatch:
        """Check ``[{field: value, ...}, ...]``.

        Args:
            records: the request's records (or a subset routed to this version).
            positions: each record's index in the request, for messages.

        Raises:
            ContractViolation: every problem found, with field and record indices.
        """
        problems: list[Violation] = []
        missing: dict[str, list[int]] = {}
        unknown: dict[str, list[int]] = {}
        required, allowed = self._required, self._allowed
        for i, record in enumerate(records):
            if type(record) is not dict:
                raise UsageError(
                    f"record {_at(positions, i)} is not a JSON object of field → value "
                    f"(got {type(record).__name__})"
                )
            keys = record.keys()
            if keys in (required, allowed):
                continue
            present = set(keys)
            for name in required - present:
                missing.setdefault(name, []).append(i)
            for name in present - allowed:
                unknown.setdefault(name, []).append(i)
        for name, rows in missing.items():
            problems.append(
                self._violation(
                    name,
                    "missing_column",
                    rows,
                    positions,
                    f"field {name!r} is missing",
                )
            )
        for name, rows in unknown.items():
            problems.append(
                self._violation(
                    name,
                    "unexpected_column",
                    rows,
                    positions,
                    f"field {name!r} is not an input of {self.model} (its inputs: "
                    f"{', '.join(self.names)})",
                )
            )
        if problems:
            self._raise(problems, len(records))
        # Numbers row by row into one flat list: one NumPy call makes the whole matrix.
        flat = [record[name] for record in records for name in self._numeric_names]
        batch = self._convert(
            lambda name: [record[name] for record in records], len(records), positions, flat
        )
        return EdgeBatch(
            rows=batch.rows,
            arrays=batch.arrays,
            records=lambda: list(records),
            warnings=batch.warnings,
            out_of_range=batch.out_of_range,
        )

    def check_columns(
        self, columns: dict[str, Any], positions: Sequence[int] | None = None
    ) -> EdgeBatch:
        """Check ``{field: [value, ...], ...}`` (every list as long as the others).

        Raises:
            ContractViolation: every problem found, with field and record indices.
            UsageError: the columns are not lists.
            Unprocessable: the lists are not all of one length.
        """
        lengths = {}
        for name, values in columns.items():
            if not isinstance(values, list):
                raise UsageError(f"column {name!r} must be a list of values, one per record")
            lengths[name] = len(values)
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k}: {v}" for k, v in lengths.items())
            raise Unprocessable(f"columns must all have the same length; got {shown}")
        rows = next(iter(lengths.values()), 0)
        problems = [
            self._violation(name, "missing_column", [], positions, f"field {name!r} is missing")
            for name in self.names
            if name not in columns
        ]
        problems += [
            self._violation(
                name,
                "unexpected_column",
                [],
                positions,
                f"field {name!r} is not an input of {self.model} (its inputs: "
                f"{', '.join(self.names)})",
            )
            for name in columns
            if name not in self._allowed
        ]
        if problems:
            self._raise(problems, rows)
        batch = self._convert(columns.__getitem__, rows, positions, None)
        names = list(columns)

        def records() -> list[dict[str, Any]]:
            return [
                dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)
            ]

        return EdgeBatch(
            rows=rows,
            arrays=batch.arrays,
            records=records,
            warnings=batch.warnings,
            out_of_range=batch.out_of_range,
        )

    # -- converting and checking ----------------------------------------------------

    def _convert(
        self,
        column: Callable[[str], list[Any]],
        rows: int,
        positions: Sequence[int] | None,
        flat: list[Any] | None,
    ) -> EdgeBatch:
        problems: list[Violation] = []
        arrays: dict[str, np.ndarray] = {}
        flagged: dict[int, list[str]] = {}
        if self._numeric:
            problems += self._numbers(column, rows, positions, arrays, flat, flagged)
        for col in self._other:
            problems += self._column(col, column(col.name), positions, arrays)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            self._raise(problems, rows)
        return EdgeBatch(
            rows=rows,
            arrays=arrays,
            records=list,
            warnings=[p for p in problems if p.severity == "warning"],
            out_of_range=flagged,
        )

    def _numbers(
        self,
        column: Callable[[str], list[Any]],
        rows: int,
        positions: Sequence[int] | None,
        arrays: dict[str, np.ndarray],
        flat: list[Any] | None,
        flagged: dict[int, list[str]],
    ) -> list[Violation]:
        problems: list[Violation] = []
        count = len(self._numeric)
        lists: list[list[Any]] | None = None
        fast = _floats(flat) if flat is not None and set(map(type, flat)) <= NUMBER_TYPES else None
        if fast is not None:
            matrix = fast.reshape(rows, count).T
        else:
            lists = [column(c.name) for c in self._numeric]
            if set(map(type, itertools.chain.from_iterable(lists))) <= NUMBER_TYPES:
                fast = _floats(lists)
                if fast is not None:
                    matrix = fast.reshape(count, rows)
                    lists = None
        if lists is None and self._fine(matrix):
            for j, name in enumerate(self._numeric_names):
                arrays[name] = matrix[j]
            return problems
        # Something is wrong (or null): find every problem, with its records.
        mistyped = None
        if lists is not None:
            matrix = np.empty((count, rows), dtype=np.float64)
            mistyped = np.zeros((count, rows), dtype=bool)
            for j, (col, given) in enumerate(zip(self._numeric, lists, strict=True)):
                bad = [i for i, v in enumerate(given) if v is not None and not _number(v)]
                if bad:
                    problems.append(self._wrong_type(col, given, bad, positions))
                    mistyped[j, bad] = True
                matrix[j] = [v if _number(v) else np.nan for v in given]
        with np.errstate(invalid="ignore"):
            null = np.isnan(matrix)
            if mistyped is not None:
                null &= ~mistyped
            infinite = np.isinf(matrix)
            below = (matrix < self._low_col) & ~infinite
            above = (matrix > self._high_col) & ~infinite
            fraction = self._whole[:, None] & np.isfinite(matrix) & (matrix != np.floor(matrix))
        for j in np.flatnonzero(null.any(axis=1) & ~self._nullable).tolist():
            col = self._numeric[j]
            rows_bad = np.flatnonzero(null[j]).tolist()
            problems.append(
                self._violation(
                    col.name,
                    "null_values",
                    rows_bad,
                    positions,
                    f"field {col.name!r} may not be null",
                )
            )
        for j in np.flatnonzero(fraction.any(axis=1)).tolist():
            col = self._numeric[j]
            bad = np.flatnonzero(fraction[j]).tolist()
            problems.append(self._wrong_type(col, matrix[j].tolist(), bad, positions))
        for j in np.flatnonzero(infinite.any(axis=1)).tolist():
            col = self._numeric[j]
            bad = np.flatnonzero(infinite[j]).tolist()
            examples = ", ".join(f"{matrix[j, i]:g}" for i in bad[:3])
            problems.append(
                self._violation(
                    col.name,
                    "wrong_type",
                    bad,
                    positions,
                    f"field {col.name!r} expects finite numbers",
                    detail=f"; got {examples}",
                )
            )
        for j in np.flatnonzero((below | above).any(axis=1)).tolist():
            col = self._numeric[j]
            for side, outside in (("below", below[j]), ("above", above[j])):
                bad = np.flatnonzero(outside).tolist()
                if bad:
                    problems.append(self._outside(j, side, bad, matrix[j], positions))
                    if self._range_severity == "warning":
                        for i in bad:
                            flagged.setdefault(i, []).append(col.name)
        for j, col in enumerate(self._numeric):
            arrays[col.name] = matrix[j]
        return problems

    def _fine(self, matrix: np.ndarray) -> bool:
        """Whether every number is finite, in range and whole where it must be (the
        common case, in three array operations; NaN fails every comparison)."""
        inside = (matrix >= self._low_col) & (matrix <= self._high_col)
        if not inside.all():
            return False
        if not self._bounded and not np.isfinite(matrix).all():
            return False
        if self._any_whole:
            whole = matrix[self._whole]
            return bool((whole == np.floor(whole)).all())
        return True

    def _column(
        self,
        col: ColumnContract,
        values: list[Any],
        positions: Sequence[int] | None,
        arrays: dict[str, np.ndarray],
    ) -> list[Violation]:
        problems: list[Violation] = []
        wanted: type = str if col.kind in ("string", "datetime") else bool
        kinds = set(map(type, values))
        nulls = [i for i, v in enumerate(values) if v is None] if NONE in kinds else []
        if not kinds <= {wanted, NONE}:
            bad = [i for i, v in enumerate(values) if v is not None and type(v) is not wanted]
            problems.append(self._wrong_type(col, values, bad, positions))
        if nulls and not col.nullable:
            problems.append(
                self._violation(
                    col.name, "null_values", nulls, positions, f"field {col.name!r} may not be null"
                )
            )
        if col.kind == "datetime":
            parsed = pd.to_datetime(
                pd.Series(values, dtype=object), utc=True, errors="coerce", format="ISO8601"
            )
            bad = [
                i
                for i, (v, t) in enumerate(zip(values, parsed, strict=True))
                if type(v) is str and t is pd.NaT
            ]
            if bad:
                problems.append(self._wrong_type(col, values, bad, positions))
            arrays[col.name] = parsed.dt.tz_convert(None).to_numpy()
            return problems
        levels = self._levels.get(col.name)
        if levels is not None and col.kind == "string":
            unseen = [i for i, v in enumerate(values) if type(v) is str and v not in levels]
            if unseen:
                examples = ", ".join(repr(values[i]) for i in unseen[:3])
                known = ", ".join(sorted(levels)[:20])
                problems.append(
                    self._violation(
                        col.name,
                        "unseen_category",
                        unseen,
                        positions,
                        f"field {col.name!r} has values not seen in training",
                        self._unseen_severity,
                        detail=f": {examples} (known: {known})",
                    )
                )
        if col.kind == "bool" and not nulls:
            arrays[col.name] = np.array(values, dtype=bool)
        else:
            array = np.empty(len(values), dtype=object)
            array[:] = values
            arrays[col.name] = array
        return problems

    # -- reporting ------------------------------------------------------------------

    def _outside(
        self,
        j: int,
        side: str,
        bad: list[int],
        values: np.ndarray,
        positions: Sequence[int] | None,
    ) -> Violation:
        """``field 'balance' is above the training range [0, 5e+04] in record 2: 9e+04``,
        with the accepted bounds when ``[validation] range_tolerance`` widens them."""
        col = self._numeric[j]
        trained = f"[{_bound(col.min, -np.inf):g}, {_bound(col.max, np.inf):g}]"
        accepted = f"[{self._low[j]:g}, {self._high[j]:g}]"
        widened = "" if accepted == trained else f" (accepted: {accepted})"
        examples = ", ".join(f"{values[i]:g}" for i in bad[:3])
        return self._violation(
            col.name,
            "out_of_range",
            bad,
            positions,
            f"field {col.name!r} is {side} the training range {trained}{widened}",
            self._range_severity,
            detail=f": {examples}",
        )

    def _wrong_type(
        self,
        col: ColumnContract,
        values: Sequence[Any],
        bad: list[int],
        positions: Sequence[int] | None,
    ) -> Violation:
        examples = ", ".join(_short(repr(values[i])) for i in bad[:3])
        return self._violation(
            col.name,
            "wrong_type",
            bad,
            positions,
            f"field {col.name!r} expects {_WANTED[col.kind]} ({col.kind})",
            detail=f"; got {examples}",
        )

    def _violation(
        self,
        name: str,
        kind: Any,
        rows: list[int],
        positions: Sequence[int] | None,
        message: str,
        severity: Any = "error",
        *,
        detail: str = "",
    ) -> Violation:
        shown = [_at(positions, i) for i in rows[:EXAMPLE_ROWS]]
        where = ""
        if shown:
            more = ", ..." if len(rows) > len(shown) else ""
            label = "record" if len(rows) == 1 else "records"
            where = f" in {label} {', '.join(map(str, shown))}{more}"
        return Violation(name, kind, len(rows), shown, message + where + detail, severity)

    def _raise(self, problems: list[Violation], rows: int) -> None:
        errors = [p for p in problems if p.severity == "error"]
        head = "; ".join(p.message for p in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ContractViolation(
            f"the request does not satisfy the input contract of {self.model}: {head}{more}",
            details={
                "model_version": self.model,
                "records": rows,
                "violations": [p.to_dict() for p in problems],
            },
        )


def _floats(values: list[Any]) -> np.ndarray | None:
    """``values`` as float64, or ``None`` when a whole number is beyond float64's range."""
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        return None


def _number(value: Any) -> bool:
    kind = type(value)
    return kind is float or (kind is int and -FLOAT_MAX <= value <= FLOAT_MAX)


def _bound(value: float | None, missing: float) -> float:
    return missing if value is None else value


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"


def _at(positions: Sequence[int] | None, i: int) -> int:
    return positions[i] if positions is not None else i
