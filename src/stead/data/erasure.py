"""Erasing one subject's personal data, and hashing snapshots that still hold raw PII.

``stead data erase --column email --value ann@example.com`` finds the value wherever
stead stored it, raw or as its keyed hash: in every snapshot that has the column and in
the prediction log. In each snapshot the matching cells become null (``--rows``: the
subject's whole rows go), the Parquet is rewritten as a new artifact, the snapshot row
points at it with a recomputed profile, and the old artifact is deleted. One audit
event, ``pii.erase``, records what was erased where; it names the subject by the value's
keyed hash, never by the value.

``stead data hash-pii`` rewrites the snapshots that store PII raw (taken before stead
hashed PII, or under ``[data] keep_raw_pii``) with their PII columns hashed; retention
calls it for snapshots older than ``[retention] raw_pii``.

A snapshot's content hash keeps naming the data as it was snapshotted: snapshotting the
same source again finds that (erased) version instead of bringing the value back.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from sqlalchemy import select

from stead.core.errors import UsageError
from stead.data.pii import matches, pseudonymise, stored_forms
from stead.data.profile import profile_frame
from stead.data.sanitize import Sanitizer
from stead.data.schema import ColumnSchema, Schema
from stead.data.snapshot import DatasetSnapshot
from stead.data.tables import DatasetSnapshotRow

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService


class LogErasureResult(Protocol):
    @property
    def cells(self) -> dict[str, int]: ...

    @property
    def files(self) -> int: ...


# (column, the value's stored forms, whether it is the entity key) -> what changed.
LogEraser = Callable[[str, set[str], bool], LogErasureResult]


@dataclass(frozen=True)
class ErasureOutcome:
    """What ``erase`` removed: cells per snapshot, and from the log."""

    column: str
    value_hash: str
    whole_rows: bool
    snapshots: dict[str, int] = field(default_factory=dict)
    log_cells: dict[str, int] = field(default_factory=dict)
    log_files: int = 0
    event_id: str | None = None

    @property
    def message(self) -> str:
        unit = "row(s)" if self.whole_rows else "value(s)"
        found = sum(self.snapshots.values())
        logged = sum(self.log_cells.values())
        if not found and not logged:
            return f"no {self.column} value matched: nothing erased (recorded)"
        return (
            f"erased {found} {unit} of {self.column} in {len(self.snapshots)} snapshot(s) "
            f"and {logged} in the prediction log ({self.log_files} file(s))"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "value_hash": self.value_hash,
            "whole_rows": self.whole_rows,
            "snapshots": dict(self.snapshots),
            "log_cells": dict(self.log_cells),
            "log_files": self.log_files,
            "event_id": self.event_id,
            "message": self.message,
        }


@dataclass(frozen=True)
class _Rewrite:
    snapshot: DatasetSnapshot
    artifact: str
    frame: pd.DataFrame
    schema: Schema
    changed: int


class ErasureService:
    """``ws.erasure``: erase a subject's values; hash snapshots that hold raw PII.

    Args:
        context: the open workspace.
        datasets: its dataset service.
        erase_log: removes a value from the prediction log (serving owns its layout, so
            the composition root passes this in).
    """

    def __init__(
        self,
        context: Context,
        *,
        datasets: DatasetService,
        pii_key: Callable[[], bytes],
        erase_log: LogEraser | None = None,
    ) -> None:
        self._ctx = context
        self._datasets = datasets
        self._pii_key = pii_key
        self._erase_log = erase_log

    def erase(
        self, *, column: str, value: str, whole_rows: bool = False, reason: str | None = None
    ) -> ErasureOutcome:
        """Remove ``value`` of ``column`` from every snapshot and the prediction log.

        Raises:
            UsageError: no snapshot has the column and ``[columns] pii`` does not list it.
        """
        settings = self._ctx.settings
        if not value:
            raise UsageError("--value is empty: give the exact value to erase")
        snapshots = [s for s in self._datasets.list() if _find(s.schema, column) is not None]
        listed = {c.casefold() for c in (*settings.columns.pii, settings.columns.id or "")}
        if not snapshots and column.casefold() not in listed:
            known = sorted({c for s in self._datasets.list() for c in s.schema.names})
            raise UsageError(
                f"no snapshot has a column {column!r} and [columns] pii does not list it; "
                f"columns are: {', '.join(known) or '(no snapshots)'}"
            )
        sanitizer = Sanitizer([column], mode="hash", key=self._pii_key())
        forms = stored_forms(value, sanitizer)
        rewrites = []
        for snapshot in snapshots:
            rewrite = self._erase_in(snapshot, column, forms, whole_rows=whole_rows)
            if rewrite is not None:
                rewrites.append(rewrite)
        log_cells: dict[str, int] = {}
        log_files = 0
        if self._erase_log is not None:
            is_entity = column.casefold() == (settings.columns.id or "").casefold()
            result = self._erase_log(column, forms, is_entity)
            log_cells, log_files = dict(result.cells), result.files
        outcome = ErasureOutcome(
            column=column,
            value_hash=sanitizer.hash_value(value),
            whole_rows=whole_rows,
            snapshots={r.snapshot.ref: r.changed for r in rewrites},
            log_cells=log_cells,
            log_files=log_files,
        )
        details = {k: v for k, v in outcome.to_dict().items() if k not in ("event_id", "message")}
        event_id = self._commit("pii.erase", f"column:{column}", rewrites, details, reason)
        return replace(outcome, event_id=event_id)

    def hash_raw_pii(
        self, *, ref: str | None = None, before: datetime | None = None, dry_run: bool = False
    ) -> list[str]:
        """Rewrite snapshots that store PII raw with their PII columns as keyed hashes.

        Args:
            ref: only this snapshot (``NAME@V``) or dataset (``NAME``); default all.
            before: only snapshots created before this time (retention).
            dry_run: only list them.

        Returns:
            The refs rewritten (audited as one ``dataset.hash_pii`` event).
        """
        chosen = [self._datasets.get(ref)] if ref and "@" in ref else self._datasets.list(ref)
        raw = [
            s
            for s in chosen
            if s.pii_storage == "raw" and (before is None or s.created_at < before)
        ]
        if not raw or dry_run:
            return [s.ref for s in raw]
        sanitizer = self._datasets.pii_sanitizer()
        rewrites = []
        for snapshot in raw:
            frame = self._datasets.load(snapshot)
            hashed = pseudonymise(frame, sanitizer)
            rewrites.append(self._store(snapshot, hashed, snapshot.schema, changed=len(frame)))
        refs = [r.snapshot.ref for r in rewrites]
        self._commit(
            "dataset.hash_pii",
            "datasets",
            rewrites,
            {"snapshots": refs, "before": before.isoformat() if before else None},
            None,
            storage="keyed_hash",
        )
        return refs

    # -- internals ------------------------------------------------------------------

    def _erase_in(
        self, snapshot: DatasetSnapshot, column: str, forms: set[str], *, whole_rows: bool
    ) -> _Rewrite | None:
        spec = _find(snapshot.schema, column)
        assert spec is not None
        frame = self._datasets.load(snapshot)
        hit = matches(frame[spec.name].tolist(), forms)
        changed = int(hit.sum())
        if not changed:
            return None
        schema = snapshot.schema
        if whole_rows:
            frame = frame.loc[~hit].reset_index(drop=True)
        else:
            values = frame[spec.name].astype(object)
            values[hit] = None
            frame = frame.assign(**{spec.name: values})
            schema = Schema(
                columns=[
                    replace(c, nullable=True) if c.name == spec.name else c for c in schema.columns
                ]
            )
        return self._store(snapshot, frame, schema, changed=changed)

    def _store(
        self, snapshot: DatasetSnapshot, frame: pd.DataFrame, schema: Schema, *, changed: int
    ) -> _Rewrite:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, engine="pyarrow", compression="zstd")
        artifact = self._ctx.artifacts.put_bytes(buffer.getvalue())
        return _Rewrite(snapshot, artifact, frame, schema, changed)

    def _commit(
        self,
        action: str,
        subject: str,
        rewrites: list[_Rewrite],
        details: dict[str, Any],
        reason: str | None,
        *,
        storage: str | None = None,
    ) -> str | None:
        bins = self._ctx.settings.data.profile_bins
        replaced = {r.snapshot.artifact for r in rewrites}
        with self._ctx.store.change(action, subject, reason=reason) as change:
            for rewrite in rewrites:
                row = change.session.get(DatasetSnapshotRow, rewrite.snapshot.id)
                assert row is not None
                row.artifact = rewrite.artifact
                row.rows = len(rewrite.frame)
                row.schema = rewrite.schema.to_dict()
                row.profile = profile_frame(rewrite.frame, rewrite.schema, bins=bins).to_dict()
                if storage is not None:
                    row.pii_storage = storage
            change.details.update(details)
            change.session.flush()
            still_named = set(
                change.session.scalars(
                    select(DatasetSnapshotRow.artifact).where(
                        DatasetSnapshotRow.artifact.in_(replaced)
                    )
                )
            )
        # After the commit: a crash before this leaves an unnamed blob, never a row
        # naming a deleted one.
        for digest in replaced - still_named:
            self._ctx.artifacts.discard(digest)
        return change.event.id if change.event else None


def _find(schema: Schema, column: str) -> ColumnSchema | None:
    wanted = column.casefold()
    return next((c for c in schema.columns if c.name.casefold() == wanted), None)
