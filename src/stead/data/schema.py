"""Schema inference: per column its kind, nullability, range, levels and roles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from stead.core.settings import ColumnRoles

Kind = Literal["int", "float", "bool", "string", "datetime"]
NUMERIC_KINDS = ("int", "float")
PII_ROLE = "pii"


def kind_of(column: pd.Series) -> Kind:
    """The logical kind of a pandas column (independent of pandas' storage dtype)."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


@dataclass(frozen=True)
class ColumnSchema:
    """What one column is. ``levels`` is ``None`` when a text column has too many values.

    A PII column keeps no values (no range, no levels): a schema is shown and copied
    freely, so it must not carry a person's data.
    """

    name: str
    kind: Kind
    nullable: bool
    min: float | str | None = None
    max: float | str | None = None
    levels: list[str] | None = None
    roles: list[str] = field(default_factory=list)

    @property
    def is_pii(self) -> bool:
        return PII_ROLE in self.roles

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        return cls(**data)


@dataclass(frozen=True)
class Schema:
    columns: list[ColumnSchema]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if role in c.roles]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(columns=[ColumnSchema.from_dict(c) for c in data["columns"]])


def is_pii_column(name: str, roles: ColumnRoles) -> bool:
    """Whether ``[columns] pii`` lists ``name``; case-insensitive, as the prediction log's."""
    return name.casefold() in {c.casefold() for c in roles.pii}


def roles_of(name: str, roles: ColumnRoles) -> list[str]:
    found = [role for role in ("id", "time", "target") if getattr(roles, role) == name]
    if is_pii_column(name, roles):
        found.append(PII_ROLE)
    if name in roles.post_prediction:
        found.append("post_prediction")
    return found


def infer_schema(frame: pd.DataFrame, *, roles: ColumnRoles, max_levels: int) -> Schema:
    """Infer a schema from a checked frame (see ``reader.check_frame``).

    Infer it from the raw frame, before PII columns are hashed: their kind is the
    values' kind (an ``int`` phone number stays ``int``), so a contract still checks
    incoming raw data.
    """
    columns = []
    for name in frame.columns:
        column = frame[name]
        kind = kind_of(column)
        nullable = bool(column.isna().any())
        low: float | str | None = None
        high: float | str | None = None
        levels: list[str] | None = None
        values = column.dropna()
        column_roles = roles_of(str(name), roles)
        if PII_ROLE in column_roles:
            pass  # kind and nullability only: a range or levels would be someone's data
        elif kind in NUMERIC_KINDS and len(values):
            array = values.to_numpy(dtype=np.float64)
            finite = array[np.isfinite(array)]
            if finite.size:
                low, high = float(finite.min()), float(finite.max())
        elif kind == "datetime" and len(values):
            low, high = values.min().isoformat(), values.max().isoformat()
        elif kind == "bool":
            levels = sorted({str(bool(v)).lower() for v in values.unique()})
        elif kind == "string":
            unique = values.astype(str).unique()
            if len(unique) <= max_levels:
                levels = sorted(str(v) for v in unique)
        columns.append(
            ColumnSchema(
                name=str(name),
                kind=kind,
                nullable=nullable,
                min=low,
                max=high,
                levels=levels,
                roles=column_roles,
            )
        )
    return Schema(columns=columns)
