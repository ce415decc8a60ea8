"""Data retention: ``[retention]`` says how long predictions and feedback are kept, and
``stead retention apply`` enforces it, audited.

::

    [retention]
    predictions = "90d"     # prediction-log days older than this are deleted
    feedback = "365d"       # feedback rows of predictions older than this are deleted
    raw_pii = "30d"         # snapshots kept with raw PII ([data] keep_raw_pii) are
                            # hashed once older than this

``STEAD_RETENTION_PREDICTIONS`` and ``STEAD_RETENTION_FEEDBACK`` override the file
(``STEAD_RETENTION_PREDICTIONS=30d``).

Only these two stores are deleted from (``raw_pii`` rewrites snapshots in place, with
their PII hashed). Audit events, registered models, snapshots and every other artifact
are never deleted by retention (the audit chain must stay whole, and
a registered version must stay loadable and traceable); monitor results are aggregates
without personal data and stay too.

The prediction log is deleted a whole UTC day at a time (its ``date=`` partitions): a day
goes once all of it is older than the cutoff, so retention never rewrites files a server
may be reading. Feedback rows go by the time of the prediction they label.

Each application records ``retention.start`` (the plan) before deleting anything and
``retention.apply`` (what was deleted, per endpoint) after, so an interrupted run is still
on the record. Retention is the log stage's: it reads the log's layout (which files of a
day are live) and deletes from its feedback table directly.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from stead.core.clock import utcnow
from stead.core.duration import parse_duration
from stead.core.errors import UsageError
from stead.core.settings import Settings, stage_table
from stead.predictions.layout import day_size, logged_days, logged_endpoints
from stead.predictions.tables import FeedbackRow

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.erasure import ErasureService
    from stead.predictions.service import PredictionService


@dataclass(frozen=True, kw_only=True)
class RetentionSettings:
    """``[retention]``: how long each store keeps data; unset keeps it forever."""

    predictions: str | None = None
    feedback: str | None = None
    raw_pii: str | None = None

    def __post_init__(self) -> None:
        for key in ("predictions", "feedback", "raw_pii"):
            value = getattr(self, key)
            if value is not None:
                try:
                    parse_duration(value, what=key)
                except UsageError as exc:
                    raise ValueError(exc.message) from exc

    def period(self, key: str) -> timedelta | None:
        value = getattr(self, key)
        return None if value is None else parse_duration(value, what=key)


def retention_settings(
    settings: Settings, env: Mapping[str, str] | None = None
) -> RetentionSettings:
    """``[retention]`` parsed and checked, with ``STEAD_RETENTION_*`` applied.

    Raises:
        SettingsError: naming the key (or the variable), the value and what is allowed.
    """
    return stage_table(settings, "retention", RetentionSettings, env=env)


@dataclass(frozen=True)
class Partition:
    """One day of one endpoint's prediction log."""

    endpoint: str
    day: date
    path: Path
    files: int
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "day": self.day.isoformat(),
            "files": self.files,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class RetentionOutcome:
    """What ``apply`` deleted (or, in a dry run, would delete)."""

    dry_run: bool
    predictions_before: datetime | None
    feedback_before: datetime | None
    partitions: list[Partition] = field(default_factory=list)
    feedback_rows: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    raw_pii_before: datetime | None = None
    raw_pii_hashed: list[str] = field(default_factory=list)
    event_id: str | None = None

    @property
    def prediction_rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def message(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        parts = []
        if self.predictions_before is None:
            parts.append("predictions: no [retention] predictions period, kept")
        else:
            parts.append(
                f"{verb} {self.prediction_rows} prediction(s) in {len(self.partitions)} "
                f"day partition(s) before {self.predictions_before:%Y-%m-%d}"
            )
        if self.feedback_before is None:
            parts.append("feedback: no [retention] feedback period, kept")
        else:
            parts.append(
                f"{verb} {sum(self.feedback_rows.values())} feedback row(s) of predictions "
                f"before {self.feedback_before:%Y-%m-%d %H:%M}"
            )
        if self.raw_pii_before is not None:
            verb_pii = "would hash" if self.dry_run else "hashed"
            parts.append(
                f"{verb_pii} the raw PII of {len(self.raw_pii_hashed)} snapshot(s) created "
                f"before {self.raw_pii_before:%Y-%m-%d %H:%M}"
            )
        text = "; ".join(parts)
        if self.failed:
            text += f"; could not delete {len(self.failed)}: {', '.join(self.failed)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "message": self.message,
            "predictions_before": None
            if self.predictions_before is None
            else self.predictions_before.isoformat(),
            "feedback_before": None
            if self.feedback_before is None
            else self.feedback_before.isoformat(),
            "prediction_rows": self.prediction_rows,
            "partitions": [p.to_dict() for p in self.partitions],
            "feedback_rows": self.feedback_rows,
            "failed": self.failed,
            "raw_pii_before": None
            if self.raw_pii_before is None
            else self.raw_pii_before.isoformat(),
            "raw_pii_hashed": self.raw_pii_hashed,
            "event_id": self.event_id,
        }


class RetentionService:
    """Applies ``[retention]`` (``ws.retention``).

    Args:
        context: the open workspace.
        predictions: the prediction log (``ws.predictions``).
        erasure: hashes the PII of snapshots stored raw (``ws.erasure``).
    """

    def __init__(
        self, context: Context, *, predictions: PredictionService, erasure: ErasureService
    ) -> None:
        self._ctx = context
        self._predictions = predictions
        self._erasure = erasure

    @property
    def settings(self) -> RetentionSettings:
        return retention_settings(self._ctx.settings)

    def apply(self, *, dry_run: bool = False, now: datetime | None = None) -> RetentionOutcome:
        """Delete prediction-log days and feedback rows older than their periods.

        Args:
            dry_run: only count what would be deleted (nothing is written).
            now: the reference time (default ``utcnow()``, which honours ``STEAD_NOW``).
        """
        now = now or utcnow()
        settings = self.settings
        keep_predictions = settings.period("predictions")
        keep_feedback = settings.period("feedback")
        predictions_before = now - keep_predictions if keep_predictions else None
        feedback_before = now - keep_feedback if keep_feedback else None
        keep_raw_pii = settings.period("raw_pii")
        raw_pii_before = now - keep_raw_pii if keep_raw_pii else None
        partitions = self._expired(predictions_before) if predictions_before else []
        feedback = self._feedback_counts(feedback_before) if feedback_before else {}
        raw_pii = self._raw_pii(raw_pii_before, dry_run=True)
        plan = RetentionOutcome(
            dry_run=True,
            predictions_before=predictions_before,
            feedback_before=feedback_before,
            partitions=partitions,
            feedback_rows=feedback,
            raw_pii_before=raw_pii_before,
            raw_pii_hashed=raw_pii,
        )
        if dry_run:
            return plan
        with self._ctx.store.change("retention.start", "retention") as change:
            change.details.update(_details(plan))
        # Audited on its own (dataset.hash_pii); no deletion, so it goes first.
        hashed = self._raw_pii(raw_pii_before, dry_run=False)
        failed: list[str] = []
        deleted: list[Partition] = []
        with self._ctx.store.change("retention.apply", "retention") as change:
            removed: dict[str, int] = {}
            if feedback_before is not None:
                for endpoint in feedback:
                    result = change.session.execute(
                        sa.delete(FeedbackRow).where(
                            FeedbackRow.endpoint == endpoint,
                            FeedbackRow.predicted_at < feedback_before,
                        )
                    )
                    removed[endpoint] = int(getattr(result, "rowcount", 0) or 0)
            for partition in partitions:
                try:
                    shutil.rmtree(partition.path)
                    deleted.append(partition)
                except OSError as exc:
                    failed.append(f"{partition.path} ({exc.strerror or exc})")
            outcome = RetentionOutcome(
                dry_run=False,
                predictions_before=predictions_before,
                feedback_before=feedback_before,
                partitions=deleted,
                feedback_rows=removed,
                failed=failed,
                raw_pii_before=raw_pii_before,
                raw_pii_hashed=hashed,
            )
            change.details.update(_details(outcome))
        event = change.event
        return replace(outcome, event_id=event.id if event else None)

    def _raw_pii(self, before: datetime | None, *, dry_run: bool) -> list[str]:
        if before is None:
            return []
        return self._erasure.hash_raw_pii(before=before, dry_run=dry_run)

    def _expired(self, before: datetime) -> list[Partition]:
        found = []
        directory = self._predictions.directory
        for endpoint in logged_endpoints(directory):
            for day, path in logged_days(directory, endpoint):
                # A day goes only when all of it is older than the cutoff.
                if datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=1) > before:
                    continue
                # Count the predictions: live part files only (not the request-id index,
                # not what a compacted file replaced).
                files, rows = day_size(path)
                found.append(Partition(endpoint, day, path, files, rows))
        return found

    def _feedback_counts(self, before: datetime) -> dict[str, int]:
        with self._ctx.store.read() as session:
            rows = session.execute(
                sa.select(FeedbackRow.endpoint, sa.func.count())
                .where(FeedbackRow.predicted_at < before)
                .group_by(FeedbackRow.endpoint)
            )
            return {str(endpoint): int(count) for endpoint, count in rows}


def _details(outcome: RetentionOutcome) -> dict[str, Any]:
    per_endpoint: dict[str, dict[str, int]] = {}
    for p in outcome.partitions:
        facts = per_endpoint.setdefault(p.endpoint, {"days": 0, "rows": 0})
        facts["days"] += 1
        facts["rows"] += p.rows
    return {
        "predictions_before": None
        if outcome.predictions_before is None
        else outcome.predictions_before.isoformat(),
        "feedback_before": None
        if outcome.feedback_before is None
        else outcome.feedback_before.isoformat(),
        "prediction_rows": outcome.prediction_rows,
        "prediction_days": len(outcome.partitions),
        "predictions_by_endpoint": per_endpoint,
        "feedback_rows": sum(outcome.feedback_rows.values()),
        "raw_pii_snapshots": outcome.raw_pii_hashed,
        "feedback_by_endpoint": outcome.feedback_rows,
        "failed": outcome.failed,
    }
