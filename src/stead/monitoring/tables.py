"""Storage rows of the monitoring stage (migrations ``0008``, ``0009``).

Results, decisions, alerts and deliveries are append-only. A trigger's ``status`` and
``outcome`` move as it is processed, each move an audited change; ``key`` columns are
unique so that firing again for the same window finds the existing alert or trigger.
The ``lease_*`` columns say who is processing a trigger and until when
(:mod:`stead.monitoring.retraining.leases`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.monitoring.records import (
    Alert,
    Decision,
    Delivery,
    MonitorResult,
    RetrainTrigger,
)


class MonitorResultRow(Base):
    __tablename__ = "monitor_results"
    __table_args__ = (
        Index("ix_monitor_results_window", "endpoint", "spec", "window_start"),
        Index("ix_monitor_results_signal", "endpoint", "spec", "window_key", "signal"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(String(20))
    window_key: Mapped[str] = mapped_column(String(80))
    window_kind: Mapped[str] = mapped_column(String(10))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    window_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cursor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    signal: Mapped[str] = mapped_column(String(40))
    layer: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    final: Mapped[bool] = mapped_column(Boolean)
    model_version: Mapped[str | None] = mapped_column(String(220), nullable=True)
    rows: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluated_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self) -> MonitorResult:
        return entity_from_row(
            MonitorResult, self, summary=dict(self.summary or {}), details=dict(self.details or {})
        )


class MonitorDecisionRow(Base):
    __tablename__ = "monitor_decisions"
    __table_args__ = (Index("ix_monitor_decisions_window", "endpoint", "window_start"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # endpoint|spec|window|kind: the policy decides each kind once per window.
    key: Mapped[str] = mapped_column(String(400), unique=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(String(20))
    window_key: Mapped[str] = mapped_column(String(80))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    alert_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    trigger_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self) -> Decision:
        return entity_from_row(Decision, self, evidence=dict(self.evidence or {}))


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_endpoint_created", "endpoint", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # endpoint|signal|window: an alert is raised (and sent) once per window.
    key: Mapped[str] = mapped_column(String(400), unique=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    signal: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    window_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    test: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self, deliveries: tuple[Delivery, ...] = ()) -> Alert:
        return entity_from_row(Alert, self, details=dict(self.details or {}), deliveries=deliveries)


class AlertDeliveryRow(Base):
    __tablename__ = "alert_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(40), index=True)
    sink: Mapped[str] = mapped_column(String(200))
    delivered: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    def to_entity(self) -> Delivery:
        return entity_from_row(Delivery, self)


class RetrainTriggerRow(Base):
    __tablename__ = "retrain_triggers"
    __table_args__ = (Index("ix_retrain_triggers_endpoint", "endpoint", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    window_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The current (or last) claim: a fencing token, who and which process took it, and
    # when it lapses unless renewed. ``claims`` counts claims, reclaims included.
    lease_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_process_start: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def to_entity(self) -> RetrainTrigger:
        return entity_from_row(
            RetrainTrigger,
            self,
            evidence=dict(self.evidence or {}),
            outcome=dict(self.outcome or {}),
            holder=self.claimed_by,
            host=self.lease_host,
            pid=self.lease_pid,
            process_start=self.lease_process_start,
            expires_at=self.lease_until,
            claims=self.claims or 0,
        )


class MonitorReferenceRow(Base):
    """What monitoring needs of a model version beyond its snapshot profile, computed once
    from the version's evaluation predictions: the output profile (prediction drift), a
    probability calibration (performance estimation) and the training metrics."""

    __tablename__ = "monitor_references"

    version_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(220))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
