"""Data layer: changes in the shape of the logged requests.

Compared with the version's input contract and its training profile, per window:

- **missing fields**: a contract column the window's requests never carried (all null);
- **new fields**: logged inputs the contract does not know;
- **type changes**: a numeric contract column whose logged values are not numbers;
- **null-rate jumps**: a column's null share above its training share by more than
  ``null_rate_jump``;
- **out-of-range rates**: the share of a numeric column's values outside the training
  range (widened by ``[validation] range_tolerance``) above a threshold, and the share of
  values of a categorical column outside its known levels (reported).

Values outside the training range that the server answered anyway (``[serving]
out_of_range = "warn"``, the default) are flagged in the log row; the signal counts
those rows in ``out_of_range_answered`` (and per field, and as a share of the answered
requests) beside the share it computes from the values. The two agree when the contract
and tolerance are those the server used; the flags are what the server said at the
time, the rate is what today's contract says of the logged values (and covers logs
written before the flags existed).

It reads the answered requests only. The ones the server refused at the edge (a
contract violation answered with 422, or one record's own error beside the others'
answers, logged with role ``rejected``) are counted in
``rejected``, by error code in ``rejected_reasons``, and a window with refused requests
says so in its message; their inputs take part in no check above, so one malformed
request cannot turn a numeric column into text or raise its null rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stead.data.contract import ColumnContract, Contract
from stead.data.profile import Profile
from stead.monitoring.drift.column_pass import numeric_values
from stead.monitoring.records import SignalResult


def schema_changes(
    contract: Contract,
    profile: Profile,
    inputs: pd.DataFrame,
    *,
    null_rate_jump: float,
    out_of_range_rate: float,
    range_tolerance: float,
    ignore: frozenset[str] = frozenset(),
    rejected: int = 0,
    rejected_reasons: dict[str, int] | None = None,
    flagged: pd.Series | None = None,
) -> SignalResult:
    """The schema signal of one window.

    Args:
        contract: the production version's input contract.
        profile: its training profile (null shares).
        inputs: the window's accepted inputs, one column per field (``inputs.`` removed).
        null_rate_jump: a null share this much above training is a change.
        out_of_range_rate: a share of out-of-range values above this is a change.
        range_tolerance: widen the training range by this fraction of its span.
        ignore: logged fields that are not model inputs (id, time and PII columns).
        rejected: how many requests of the window the server refused at the edge.
        rejected_reasons: those refusals per error code.
        flagged: per answered request (aligned with ``inputs``), the fields its log
            row names as served outside the training range (a list, or null).
    """
    rows = len(inputs)
    served, answered = _flag_counts(flagged)
    known = set(contract.names)
    missing: list[str] = []
    new = sorted(
        c for c in inputs.columns if c not in known and c not in ignore and inputs[c].notna().any()
    )
    type_changes: dict[str, Any] = {}
    null_jumps: dict[str, Any] = {}
    out_of_range: dict[str, Any] = {}
    unseen: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    for spec in contract.columns:
        if rows == 0:
            break
        series = inputs.get(spec.name)
        reference_rate = _reference_null_rate(profile, spec.name)
        if series is None or series.isna().all():
            if reference_rate < 1.0:
                missing.append(spec.name)
            columns[spec.name] = {"null_rate": 1.0, "reference_null_rate": reference_rate}
            continue
        null_rate = float(series.isna().mean())
        facts: dict[str, Any] = {"null_rate": null_rate, "reference_null_rate": reference_rate}
        if null_rate - reference_rate > null_rate_jump:
            null_jumps[spec.name] = {"null_rate": null_rate, "reference": reference_rate}
        if spec.kind in ("int", "float"):
            values = numeric_values(series)
            if values is None:
                type_changes[spec.name] = _type_change(spec, series)
            else:
                rate = _out_of_range(spec, values, range_tolerance)
                if rate is not None:
                    facts["out_of_range_rate"] = rate
                    facts["out_of_range_answered"] = answered.get(spec.name, 0)
                    if rate > out_of_range_rate:
                        out_of_range[spec.name] = {
                            "rate": rate,
                            "min": spec.min,
                            "max": spec.max,
                            "answered": answered.get(spec.name, 0),
                        }
        elif spec.levels is not None:
            present = series.dropna().astype(str)
            levels = set(spec.levels)
            if spec.kind == "bool":
                present = present.str.lower()
            rate = float((~present.isin(levels)).mean()) if len(present) else 0.0
            facts["unseen_level_rate"] = rate
            if rate:
                unseen[spec.name] = {
                    "rate": rate,
                    "examples": sorted(set(present[~present.isin(levels)].head(50)))[:5],
                }
        columns[spec.name] = facts
    changes = {
        "missing_fields": missing,
        "new_fields": new,
        "type_changes": type_changes,
        "null_rate_jumps": null_jumps,
        "out_of_range": out_of_range,
    }
    found = [k for k, v in changes.items() if v]
    if rows == 0:
        status: Any = "insufficient_data"
        message = "no requests in the window"
    elif found:
        status = "alert"
        message = "schema changed: " + "; ".join(_describe(k, changes[k]) for k in found)
    else:
        status = "ok"
        message = f"requests match the contract ({len(contract.columns)} fields)"
    if served:
        fields = ", ".join(f"{k} {v}" for k, v in sorted(answered.items()))
        message += f"; {served} of {rows} answered outside the training range ({fields})"
    if rejected:
        message += f"; {rejected} refused at the edge (not checked)"
    return SignalResult(
        signal="schema",
        status=status,
        summary={
            **{k: (v if isinstance(v, list) else sorted(v)) for k, v in changes.items()},
            "rows": rows,
            "out_of_range_answered": served,
            "out_of_range_answered_rate": served / rows if rows else 0.0,
            "out_of_range_answered_by_field": dict(sorted(answered.items())),
            "rejected": rejected,
            "rejected_reasons": dict(rejected_reasons or {}),
        },
        details={
            **changes,
            "unseen_levels": unseen,
            "columns": columns,
        },
        message=message,
    )


def _flag_counts(flagged: pd.Series | None) -> tuple[int, dict[str, int]]:
    """How many answered requests were flagged out of range, in all and per field."""
    rows = 0
    counts: dict[str, int] = {}
    for names in flagged.dropna() if flagged is not None else ():
        rows += len(names) > 0
        for name in names:
            counts[str(name)] = counts.get(str(name), 0) + 1
    return rows, counts


def _reference_null_rate(profile: Profile, name: str) -> float:
    try:
        return profile.column(name).missing_rate
    except KeyError:
        return 0.0


def _type_change(spec: ColumnContract, series: pd.Series) -> dict[str, Any]:
    present = series.dropna()
    parsed = pd.to_numeric(present, errors="coerce")
    bad = present[parsed.isna()]
    return {
        "expected": spec.kind,
        "logged": str(series.dtype),
        "not_numbers": len(bad),
        "examples": [str(v) for v in bad.head(5)],
    }


def _out_of_range(spec: ColumnContract, values: np.ndarray, tolerance: float) -> float | None:
    if spec.min is None or spec.max is None:
        return None
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    widen = (spec.max - spec.min) * tolerance
    outside = (finite < spec.min - widen) | (finite > spec.max + widen)
    return float(outside.mean())


def _describe(kind: str, value: Any) -> str:
    names = sorted(value) if isinstance(value, dict) else list(value)
    label = kind.replace("_", " ")
    return f"{label}: {', '.join(names)}"
