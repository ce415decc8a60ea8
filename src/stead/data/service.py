"""``ws.datasets``: snapshot, look up, load, compare and validate versioned data."""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import func, select

from stead.core.artifacts import sha256_file
from stead.core.clock import utcnow
from stead.core.errors import DataError, NotFound
from stead.core.ids import new_id
from stead.core.provenance import caller_directory, git_code_version
from stead.core.settings import ValidationSettings
from stead.data.contract import Contract, ValidationReport, validate
from stead.data.diff import SnapshotDiff, diff_snapshots
from stead.data.pii import pseudonymise
from stead.data.profile import profile_frame
from stead.data.reader import check_frame, read_table
from stead.data.sanitize import Sanitizer
from stead.data.schema import PII_ROLE, Schema, infer_schema
from stead.data.snapshot import DatasetSnapshot, SnapshotRef, check_name, content_hash
from stead.data.tables import DatasetSnapshotRow

if TYPE_CHECKING:
    from stead.core.context import Context


@dataclass(frozen=True)
class SnapshotOutcome:
    """The snapshot, and whether this call created it or found identical data already."""

    snapshot: DatasetSnapshot
    created: bool

    @property
    def message(self) -> str:
        s = self.snapshot
        if self.created:
            return f"created {s.ref}: {s.rows} rows × {len(s.schema.columns)} columns"
        return f"identical data is already {s.ref}; no new version"


class DatasetService:
    def __init__(self, context: Context, *, pii_key: Callable[[], bytes]) -> None:
        self._ctx = context
        # The workspace's PII hash key, read only when something is hashed.
        self._pii_key = pii_key

    # -- creating -------------------------------------------------------------------

    def snapshot_file(self, path: str | os.PathLike[str], *, name: str) -> SnapshotOutcome:
        """Snapshot a CSV or Parquet file under ``name``, recording its path and hash."""
        check_name(name)
        frame = read_table(path)
        resolved = Path(path).resolve()
        return self._snapshot(
            frame, name, source_path=str(resolved), source_hash=sha256_file(resolved)
        )

    def snapshot(
        self, frame: pd.DataFrame, *, name: str, source: str | None = None
    ) -> SnapshotOutcome:
        """Snapshot a DataFrame under ``name``. Identical data returns the existing version.

        Raises:
            DataError: the frame is empty, has duplicate columns or mixed-type columns.
        """
        check_name(name)
        return self._snapshot(check_frame(frame), name, source_path=source, source_hash=None)

    def _snapshot(
        self, frame: pd.DataFrame, name: str, *, source_path: str | None, source_hash: str | None
    ) -> SnapshotOutcome:
        settings = self._ctx.settings
        frame = self._with_time_column(frame)
        # The schema describes the raw values (their kind); what is stored, hashed and
        # profiled is the frame with its PII columns as keyed hashes.
        schema = infer_schema(frame, roles=settings.columns, max_levels=settings.data.max_levels)
        if not settings.data.keep_raw_pii:
            frame = pseudonymise(frame, self.pii_sanitizer())
        digest = content_hash(frame)
        existing = self._find_by_content(name, digest)
        if existing is not None:
            return SnapshotOutcome(existing, created=False)
        profile = profile_frame(frame, schema, bins=settings.data.profile_bins)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, engine="pyarrow", compression="zstd")
        # The artifact is durable before any metadata names it: a crash in between leaves
        # an unreferenced blob, never a snapshot pointing at nothing.
        artifact = self._ctx.artifacts.put_bytes(buffer.getvalue())
        code = git_code_version(caller_directory(self._ctx.root))
        with self._ctx.store.change("dataset.snapshot", f"dataset:{name}") as change:
            session = change.session
            same = session.scalars(
                select(DatasetSnapshotRow).where(
                    DatasetSnapshotRow.name == name, DatasetSnapshotRow.content_hash == digest
                )
            ).first()
            if same is not None:
                # Another process snapshotted identical data while we profiled.
                change.subject = f"dataset:{same.name}@{same.version}"
                change.action = "dataset.snapshot.reused"
                return_row = same
            else:
                latest = session.scalars(
                    select(DatasetSnapshotRow)
                    .where(DatasetSnapshotRow.name == name)
                    .order_by(DatasetSnapshotRow.version.desc())
                    .limit(1)
                ).first()
                return_row = DatasetSnapshotRow(
                    id=new_id("ds"),
                    name=name,
                    version=(latest.version + 1) if latest else 1,
                    content_hash=digest,
                    artifact=artifact,
                    rows=len(frame),
                    schema=schema.to_dict(),
                    profile=profile.to_dict(),
                    source_path=source_path,
                    source_hash=source_hash,
                    parent_id=latest.id if latest else None,
                    code_version=code.to_dict(),
                    created_at=utcnow(),
                    created_by=change.actor,
                    pii_storage=_pii_storage(schema, raw=settings.data.keep_raw_pii),
                )
                session.add(return_row)
                change.subject = f"dataset:{name}@{return_row.version}"
                change.details.update(
                    {
                        "snapshot_id": return_row.id,
                        "content_hash": digest,
                        "artifact": artifact,
                        "rows": len(frame),
                        "columns": len(schema.columns),
                        "pii_storage": return_row.pii_storage,
                        "source_path": source_path,
                        "source_hash": source_hash,
                    }
                )
            snapshot = return_row.to_entity()
        return SnapshotOutcome(snapshot, created=change.action == "dataset.snapshot")

    def pii_sanitizer(self) -> Sanitizer:
        """The hashing of ``[columns] pii``: the prediction log's, with its key.

        Raises:
            SettingsError: the key file is unsafe or unreadable.
        """
        pii = self._ctx.settings.columns.pii
        return Sanitizer(pii, mode="hash", key=self._pii_key() if pii else None)

    def _with_time_column(self, frame: pd.DataFrame) -> pd.DataFrame:
        time_col = self._ctx.settings.columns.time
        if not time_col or time_col not in frame.columns:
            return frame
        if pd.api.types.is_datetime64_any_dtype(frame[time_col].dtype):
            return frame
        parsed = pd.to_datetime(frame[time_col], errors="coerce", utc=True, format="mixed")
        bad = parsed.isna() & frame[time_col].notna()
        if bad.any():
            rows = ", ".join(str(i) for i in bad[bad].index[:5])
            raise DataError(
                f"time column {time_col!r} (from [columns] time) has values that are not "
                f"timestamps in rows {rows}; fix them or change [columns] time"
            )
        frame = frame.copy()
        frame[time_col] = parsed
        return frame

    # -- reading --------------------------------------------------------------------

    def _find_by_content(self, name: str, digest: str) -> DatasetSnapshot | None:
        with self._ctx.store.read() as session:
            row = session.scalars(
                select(DatasetSnapshotRow).where(
                    DatasetSnapshotRow.name == name, DatasetSnapshotRow.content_hash == digest
                )
            ).first()
            return row.to_entity() if row else None

    def get(self, ref: str | SnapshotRef) -> DatasetSnapshot:
        """The snapshot ``NAME@V``, or the latest version of ``NAME``.

        Raises:
            NotFound: naming the dataset and the versions that do exist.
        """
        ref = SnapshotRef.parse(ref) if isinstance(ref, str) else ref
        with self._ctx.store.read() as session:
            query = select(DatasetSnapshotRow).where(DatasetSnapshotRow.name == ref.name)
            if ref.version is None:
                query = query.order_by(DatasetSnapshotRow.version.desc()).limit(1)
            else:
                query = query.where(DatasetSnapshotRow.version == ref.version)
            row = session.scalars(query).first()
            if row is not None:
                return row.to_entity()
            versions = session.scalar(
                select(func.max(DatasetSnapshotRow.version)).where(
                    DatasetSnapshotRow.name == ref.name
                )
            )
        if versions:
            raise NotFound(
                f"dataset {ref.name} has no version {ref.version}; versions are 1 to {versions}"
            )
        raise NotFound(f"no dataset named {ref.name!r}; `stead data list` shows the datasets")

    def get_by_id(self, snapshot_id: str) -> DatasetSnapshot:
        with self._ctx.store.read() as session:
            row = session.get(DatasetSnapshotRow, snapshot_id)
            if row is None:
                raise NotFound(f"no dataset snapshot with id {snapshot_id}")
            return row.to_entity()

    def list(self, name: str | None = None) -> list[DatasetSnapshot]:
        """Every snapshot (or every version of ``name``), newest version first per name."""
        with self._ctx.store.read() as session:
            query = select(DatasetSnapshotRow).order_by(
                DatasetSnapshotRow.name, DatasetSnapshotRow.version.desc()
            )
            if name is not None:
                query = query.where(DatasetSnapshotRow.name == name)
            return [row.to_entity() for row in session.scalars(query)]

    def load(self, ref: str | SnapshotRef | DatasetSnapshot) -> pd.DataFrame:
        """The snapshot's data, read from its verified Parquet artifact."""
        snapshot = ref if isinstance(ref, DatasetSnapshot) else self.get(ref)
        data = self._ctx.artifacts.get_bytes(snapshot.artifact, label=f"dataset {snapshot.ref}")
        return pd.read_parquet(io.BytesIO(data))

    def diff(self, a: str, b: str) -> SnapshotDiff:
        return diff_snapshots(self.get(a), self.get(b))

    # -- contracts ------------------------------------------------------------------

    def contract(
        self, ref: str | SnapshotRef | DatasetSnapshot, *, columns: builtins.list[str] | None = None
    ) -> Contract:
        """The data contract a snapshot's schema implies (optionally for some columns)."""
        snapshot = ref if isinstance(ref, DatasetSnapshot) else self.get(ref)
        return Contract.from_schema(snapshot.schema, columns=columns, source=snapshot.ref)

    def validate(
        self,
        data: pd.DataFrame | str | os.PathLike[str],
        contract: Contract | str,
        *,
        policy: ValidationSettings | None = None,
    ) -> ValidationReport:
        """Check a frame or file against a contract (or the contract of ``NAME@V``)."""
        frame = data if isinstance(data, pd.DataFrame) else read_table(data, strict=False)
        if isinstance(contract, str):
            contract = self.contract(contract)
        return validate(frame, contract, policy=policy or self._ctx.settings.validation)


def _pii_storage(schema: Schema, *, raw: bool) -> str | None:
    if not schema.with_role(PII_ROLE):
        return None
    return "raw" if raw else "keyed_hash"
