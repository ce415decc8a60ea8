"""``ws.predictions``: open the prediction log the server writes to, read it back, compact it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from stead.data.sanitize import Sanitizer, load_or_create_key
from stead.predictions.compaction import (
    KEEP_REPLACED,
    SETTLE,
    TARGET_ROWS,
    CompactionReport,
    compact_log,
)
from stead.predictions.reader import TimeBound, read_prediction_records, read_predictions
from stead.predictions.record import PredictionRecord
from stead.predictions.writer import Mode, PredictionLog, QuarantineListener

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.predictions.settings import PredictionLogSettings


class PredictionService:
    """The prediction log of a workspace, configured by ``[serving.log]``.

    Args:
        context: the open workspace.
        settings: its ``[serving.log]`` table.
    """

    def __init__(self, context: Context, *, settings: PredictionLogSettings) -> None:
        self._ctx = context
        self.settings = settings

    @property
    def directory(self) -> Path:
        """The log root (``[serving.log] dir``, under the state directory by default)."""
        return self._ctx.settings.resolve_path(self.settings.dir)

    def sanitizer(self, pii_columns: Iterable[str] = ()) -> Sanitizer:
        """The PII policy: ``[columns] pii`` plus ``pii_columns``, hashed or dropped.

        The hash key is read, or created with mode 0600, only when something is hashed.

        Raises:
            SettingsError: the key file is unsafe or unreadable.
        """
        roles = self._ctx.settings.columns
        pii = [*roles.pii, *pii_columns]
        folded = {c.casefold() for c in pii}
        entity_key_is_pii = roles.id is not None and roles.id.casefold() in folded
        mode = self.settings.pii
        key = self.pii_key() if mode == "hash" and (pii or entity_key_is_pii) else None
        return Sanitizer(pii, mode=mode, key=key, entity_key_is_pii=entity_key_is_pii)

    def pii_key(self) -> bytes:
        """The workspace's one PII hash key (``[serving.log] pii_key_path``), created with
        mode 0600 if missing: the log's and every snapshot's, so hashes join.

        Raises:
            SettingsError: the key file is unsafe or unreadable.
        """
        return load_or_create_key(self._ctx.settings.resolve_path(self.settings.pii_key_path))

    def open_log(
        self,
        *,
        mode: Mode | None = None,
        pii_columns: Iterable[str] = (),
        on_quarantine: QuarantineListener | None = None,
    ) -> PredictionLog:
        """Start a writer on the workspace's log; the server calls this once per worker.

        Args:
            mode: overrides ``[serving.log] mode``.
            pii_columns: PII columns beyond ``[columns] pii`` (e.g. from a contract).
            on_quarantine: called with (endpoint, reason) per record the writer could
                not store (the server counts them in ``/metrics``).

        Raises:
            SettingsError: the PII key file is unsafe or unreadable.
        """
        s = self.settings
        return PredictionLog(
            self.directory,
            mode=mode or s.mode,
            batch_size=s.batch_size,
            flush_interval=s.flush_interval,
            sync_interval=s.sync_interval,
            capacity=s.capacity,
            full_timeout=s.full_timeout,
            sanitizer=self.sanitizer(pii_columns),
            on_quarantine=on_quarantine,
        )

    def read(
        self,
        endpoint: str,
        since: TimeBound = None,
        until: TimeBound = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The predictions of ``endpoint`` in ``[since, until)``; see :func:`read_predictions`."""
        return read_predictions(self.directory, endpoint, since, until, columns=columns)

    def records(
        self, endpoint: str, since: TimeBound = None, until: TimeBound = None
    ) -> list[PredictionRecord]:
        """The same window as PredictionRecords, in time order."""
        return read_prediction_records(self.directory, endpoint, since, until)

    def compact(
        self,
        endpoint: str | None = None,
        *,
        settle: timedelta = SETTLE,
        keep_replaced: timedelta = KEEP_REPLACED,
        target_rows: int = TARGET_ROWS,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> CompactionReport:
        """Merge the small part files of closed days; audited when anything changed.

        See :mod:`stead.predictions.compaction` for what is safe when (readers and
        writers may run meanwhile). The audit event counts files, rows and bytes per day.

        Raises:
            UsageError: a bad endpoint name, duration or row count.
        """
        report = compact_log(
            self.directory,
            endpoint,
            settle=settle,
            keep_replaced=keep_replaced,
            target_rows=target_rows,
            dry_run=dry_run,
            now=now,
        )
        if not dry_run and report.changed:
            with self._ctx.store.change(
                "predictions.compact", f"predictions/{endpoint or '*'}"
            ) as change:
                change.details["closed_before"] = report.closed_before.isoformat()
                change.details["days"] = [
                    {**asdict(d), "day": d.day.isoformat()} for d in report.changed
                ]
        return report
