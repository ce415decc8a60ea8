"""The DatasetSnapshot entity, references like ``credit@3``, and content hashing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from stead.core.errors import UsageError
from stead.core.provenance import CodeVersion
from stead.data.profile import Profile
from stead.data.schema import Schema, kind_of

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


PiiStorage = Literal["keyed_hash", "raw"]


@dataclass(frozen=True)
class DatasetSnapshot:
    """An immutable, versioned copy of a table with its schema and profile.

    ``pii_storage`` says how its PII columns are stored (``None``: it has none). Only
    erasure and the hashing of raw PII ever rewrite a snapshot's data.
    """

    id: str
    name: str
    version: int
    content_hash: str
    artifact: str
    rows: int
    schema: Schema
    profile: Profile
    source_path: str | None
    source_hash: str | None
    parent_id: str | None
    code_version: CodeVersion
    created_at: datetime
    created_by: str
    pii_storage: PiiStorage | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "artifact": self.artifact,
            "rows": self.rows,
            "columns": len(self.schema.columns),
            "source_path": self.source_path,
            "source_hash": self.source_hash,
            "parent_id": self.parent_id,
            "code_version": self.code_version.to_dict(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "pii_storage": self.pii_storage,
        }
        if full:
            body["schema"] = self.schema.to_dict()
            body["profile"] = self.profile.to_dict()
        return body


@dataclass(frozen=True)
class SnapshotRef:
    """``NAME`` (the latest version) or ``NAME@V``."""

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> SnapshotRef:
        name, sep, version = text.strip().partition("@")
        check_name(name)
        if not sep:
            return cls(name)
        if not version.isdigit() or int(version) < 1:
            raise UsageError(
                f"{text!r}: the version after '@' must be a whole number ≥ 1, like {name}@3"
            )
        return cls(name, int(version))

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid name: use letters, digits, '_', '-' or '.', "
            "starting with a letter or digit (at most 200 characters)"
        )
    return name


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of the table's content: column names, logical kinds and values, in order.

    It does not depend on the file format or pandas' storage dtypes, so the same data read
    from CSV or Parquet, or by another pandas version, hashes the same.
    """
    digest = hashlib.sha256()
    digest.update(str(len(frame)).encode())
    for name in frame.columns:
        column = frame[name]
        kind = kind_of(column)
        digest.update(f"\0{name}\0{kind}\0".encode())
        if kind == "string":
            column = column.astype(object).where(column.notna(), None)
        digest.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
    return digest.hexdigest()
