"""Retrain triggers: created once per cause, processed once, every move audited.

A trigger's ``key`` is unique: the monitor firing again for the same window (a re-run, a
second monitor) finds the existing trigger instead of making another. While an automatic
trigger is pending or being processed, and for windows starting within ``[policy]
retrain_cooldown`` of its window, no other is created: the first one's retraining is
already answering that evidence.

This module creates triggers and reads them. Processing one happens only under a lease
(:mod:`stead.monitoring.retraining.leases`: claim, step, finish), so that a trigger is
never taken from a process that still holds it; its steps are audited as
``retrain.<step>`` with subject ``trigger:<id>``.
"""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from stead.core.clock import utcnow
from stead.core.ids import new_id
from stead.monitoring.records import RetrainTrigger
from stead.monitoring.tables import RetrainTriggerRow

if TYPE_CHECKING:
    from stead.core.context import Context

OPEN = ("pending", "processing")


class TriggerStore:
    """Creating and reading the retrain triggers of a workspace (processing them is
    ``TriggerLeases``')."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def create(
        self,
        *,
        endpoint: str,
        kind: str,
        reason: str,
        evidence: dict[str, Any],
        window_key: str | None = None,
        window_start: datetime | None = None,
        cooldown: timedelta | None = None,
    ) -> tuple[RetrainTrigger, bool]:
        """A new trigger, or the one that already answers this cause.

        Returns:
            The trigger, and whether it was created now. A trigger suppressed by the
            cooldown returns the earlier trigger that suppressed it.
        """
        key = (
            f"{endpoint}|{kind}|{window_key}"
            if window_key is not None
            else f"{endpoint}|{kind}|{new_id('m')}"
        )
        with self._ctx.store.change("retrain.trigger", f"endpoint:{endpoint}") as change:
            session = change.session
            same = session.scalars(
                select(RetrainTriggerRow).where(RetrainTriggerRow.key == key)
            ).first()
            if same is not None:
                change.action = "retrain.trigger.reused"
                change.details.update({"trigger_id": same.id, "key": key})
                return same.to_entity(), False
            if cooldown is not None and window_start is not None:
                # An open trigger is still answering the evidence; a recent one has.
                earlier = session.scalars(
                    select(RetrainTriggerRow)
                    .where(
                        RetrainTriggerRow.endpoint == endpoint,
                        RetrainTriggerRow.kind != "manual",
                        RetrainTriggerRow.status != "failed",
                        or_(
                            RetrainTriggerRow.status.in_(OPEN),
                            and_(
                                RetrainTriggerRow.window_start.is_not(None),
                                RetrainTriggerRow.window_start > window_start - cooldown,
                                RetrainTriggerRow.window_start <= window_start,
                            ),
                        ),
                    )
                    .order_by(RetrainTriggerRow.created_at.desc())
                    .limit(1)
                ).first()
                if earlier is not None:
                    change.action = "retrain.trigger.suppressed"
                    change.details.update(
                        {
                            "trigger_id": earlier.id,
                            "key": key,
                            "cooldown_s": cooldown.total_seconds(),
                        }
                    )
                    return earlier.to_entity(), False
            row = RetrainTriggerRow(
                id=new_id("trg"),
                key=key,
                endpoint=endpoint,
                kind=kind,
                reason=reason,
                evidence=evidence,
                status="pending",
                window_key=window_key,
                window_start=window_start,
                created_at=utcnow(),
                created_by=change.actor,
                processed_at=None,
                outcome={},
                error=None,
            )
            session.add(row)
            change.subject = f"trigger:{row.id}"
            change.reason = reason
            change.details.update(
                {"endpoint": endpoint, "kind": kind, "key": key, "window": window_key}
            )
            return row.to_entity(), True

    def list(
        self, endpoint: str | None = None, *, status: str | None = None
    ) -> builtins.list[RetrainTrigger]:
        """Triggers, oldest first, each with its current or last claim (lease)."""
        query = select(RetrainTriggerRow).order_by(
            RetrainTriggerRow.created_at, RetrainTriggerRow.id
        )
        if endpoint is not None:
            query = query.where(RetrainTriggerRow.endpoint == endpoint)
        if status is not None:
            query = query.where(RetrainTriggerRow.status == status)
        with self._ctx.store.read() as session:
            return [row.to_entity() for row in session.scalars(query)]
