"""Checking what a feedback call carries: request ids, labels and KPI values.

A label or KPI value is a JSON scalar (a number, text or true/false); missing cells (NaN,
NA) are skipped. A file must have ``request_id`` and ``label`` columns; every other column
is a KPI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stead.core.errors import DataError, UsageError

REQUEST_ID = "request_id"
LABEL = "label"


@dataclass(frozen=True)
class FeedbackItem:
    """The label and KPI values sent for one request id."""

    request_id: str
    label: Any
    kpis: dict[str, Any]


def request_id_of(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise UsageError(f"request id {value!r} is not allowed; give the id a response carried")


def scalar(value: Any, *, what: str) -> Any:
    """A JSON scalar, or ``None`` for missing (NaN, NA)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str):
        if isinstance(value, float) and math.isinf(value):
            raise UsageError(f"{what} {value!r} is not a finite number")
        return value
    raise UsageError(
        f"{what} {value!r} is a {type(value).__name__}; use a number, text or true/false"
    )


def kpi_values(values: Any, *, row: int | None) -> dict[str, Any]:
    """KPI name -> value, missing values left out.

    Raises:
        UsageError: ``values`` is not a mapping, a name is not text, or a value is not a
            number, text or true/false.
    """
    where = "" if row is None else f" in row {row}"
    if not isinstance(values, dict):
        raise UsageError(
            f"KPIs{where} {values!r} are a {type(values).__name__}; send an object of "
            'KPI name -> value, e.g. {"revenue": 120.0}'
        )
    kpis: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise UsageError(f"KPI name {name!r}{where} is not allowed; use text")
        checked = scalar(value, what=f"KPI {name!r}{where}")
        if checked is not None:
            kpis[name] = checked
    return kpis


def items_of(frame: pd.DataFrame, *, where: str) -> list[FeedbackItem]:
    missing = [c for c in (REQUEST_ID, LABEL) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where} has no {' or '.join(repr(c) for c in missing)} column; feedback needs "
            f"'request_id' and 'label' (every other column is a KPI). Its columns are: "
            f"{', '.join(map(str, frame.columns))}"
        )
    ids = frame[REQUEST_ID]
    bad_ids = np.flatnonzero(ids.isna().to_numpy())
    if len(bad_ids):
        raise DataError(f"{where}: request_id is empty in rows {_rows(bad_ids)}; fill or drop them")
    no_label = np.flatnonzero(frame[LABEL].isna().to_numpy())
    if len(no_label):
        raise DataError(
            f"{where}: label is empty in {len(no_label)} row(s) ({_rows(no_label)}); "
            "drop them or fill in the label"
        )
    kpi_columns = [c for c in frame.columns if c not in (REQUEST_ID, LABEL)]
    items: dict[str, FeedbackItem] = {}
    for position, row in enumerate(frame.to_dict("records")):
        request_id = str(row[REQUEST_ID])
        try:
            label = scalar(row[LABEL], what=f"label in row {position}")
            kpis = kpi_values({c: row[c] for c in kpi_columns}, row=position)
        except UsageError as error:
            raise DataError(f"{where}: {error.message}") from error
        item = FeedbackItem(request_id, label, kpis)
        earlier = items.get(request_id)
        if earlier is not None and earlier != item:
            raise DataError(
                f"{where}: request id {request_id!r} appears twice with different feedback "
                f"(row {position} and an earlier row); keep one"
            )
        items[request_id] = item
    return list(items.values())


def _rows(positions: np.ndarray) -> str:
    shown = ", ".join(str(int(p)) for p in positions[:5])
    return shown + (", ..." if len(positions) > 5 else "")
