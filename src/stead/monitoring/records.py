"""What monitoring records: results per window and signal, decisions, alerts, triggers
(with their leases).

Frozen dataclasses with ``to_dict`` (plain JSON), converted from their storage rows in
``tables.py``. Results are never edited: a re-evaluated window (``--force``, or labels
that arrived later) is a new result, and the newest one per window and signal counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from stead.core.clock import to_utc, utcnow
from stead.training.liveness import ProcessStamp, is_alive

Layer = Literal["data", "model", "system", "business"]
Signal = Literal[
    "data_drift",
    "prediction_drift",
    "schema",
    "performance",
    "estimated_performance",
    "system",
    "kpi",
]
# ok: within limits; alert: a limit crossed; insufficient_data: too little to judge;
# awaiting_labels: performance waits for feedback; unavailable: cannot be measured here.
ResultStatus = Literal["ok", "alert", "insufficient_data", "awaiting_labels", "unavailable"]

LAYERS: dict[str, Layer] = {
    "data_drift": "data",
    "prediction_drift": "data",
    "schema": "data",
    "performance": "model",
    "estimated_performance": "model",
    "system": "system",
    "kpi": "business",
}
SIGNALS: tuple[str, ...] = tuple(LAYERS)


@dataclass(frozen=True)
class SignalResult:
    """One signal's verdict on one window, before it is stored.

    Attributes:
        signal: which signal (``data_drift``, ``performance`` ...).
        status: ``ok``, ``alert``, ``insufficient_data``, ``awaiting_labels`` or
            ``unavailable``.
        summary: the headline numbers (shown in tables, charts and alerts).
        details: everything behind the verdict (the evidence of any decision).
        message: one sentence a person reads.
        final: false while the verdict may still change (labels still arriving).
    """

    signal: str
    status: ResultStatus
    summary: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    final: bool = True

    @property
    def layer(self) -> Layer:
        return LAYERS[self.signal]


@dataclass(frozen=True)
class MonitorResult:
    """A stored :class:`SignalResult` of one window of one endpoint."""

    id: str
    endpoint: str
    spec: str
    window_key: str
    window_start: datetime
    window_end: datetime
    signal: str
    layer: str
    status: str
    final: bool
    model_version: str | None
    rows: int
    summary: dict[str, Any]
    details: dict[str, Any]
    message: str
    evaluated_at: datetime
    evaluated_by: str
    window_index: int | None = None
    cursor: str | None = None

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "endpoint": self.endpoint,
            "spec": self.spec,
            "window": self.window_key,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "signal": self.signal,
            "layer": self.layer,
            "status": self.status,
            "final": self.final,
            "model_version": self.model_version,
            "rows": self.rows,
            "summary": self.summary,
            "message": self.message,
            "evaluated_at": self.evaluated_at.isoformat(),
            "evaluated_by": self.evaluated_by,
        }
        if details:
            body["details"] = self.details
        return body


DecisionKind = Literal[
    "investigate",
    "retrain",
    "revisit_features",
    "schema_change",
    "performance_below",
    "system",
    "kpi",
    "suppressed_retrain",
]
Action = Literal["alert", "trigger", "recommendation", "none"]
Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True)
class Decision:
    """What the policy decided about a window, and the evidence that caused it."""

    id: str
    endpoint: str
    spec: str
    window_key: str
    window_start: datetime
    window_end: datetime
    kind: str
    action: str
    severity: str
    message: str
    evidence: dict[str, Any]
    created_at: datetime
    created_by: str
    alert_id: str | None = None
    trigger_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "spec": self.spec,
            "window": self.window_key,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "kind": self.kind,
            "action": self.action,
            "severity": self.severity,
            "message": self.message,
            "evidence": self.evidence,
            "alert_id": self.alert_id,
            "trigger_id": self.trigger_id,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Delivery:
    """One attempt (with retries) to deliver an alert through one sink."""

    sink: str
    delivered: bool
    attempts: int
    error: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "error": self.error,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Alert:
    """An alert: unique per endpoint, signal and window (``key``)."""

    id: str
    key: str
    endpoint: str
    signal: str
    severity: str
    title: str
    message: str
    window_key: str | None
    details: dict[str, Any]
    created_at: datetime
    created_by: str
    test: bool = False
    deliveries: tuple[Delivery, ...] = ()

    @property
    def delivered(self) -> bool:
        return any(d.delivered for d in self.deliveries)

    def payload(self) -> dict[str, Any]:
        """What a sink sends: the alert without delivery bookkeeping."""
        return {
            "id": self.id,
            "key": self.key,
            "endpoint": self.endpoint,
            "signal": self.signal,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "window": self.window_key,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
            "test": self.test,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.payload(), "deliveries": [d.to_dict() for d in self.deliveries]}


TriggerStatus = Literal["pending", "processing", "done", "no_change", "failed"]
# live: a holder is processing the trigger; expired: the holder stopped renewing (or it was
# claimed before leases existed), so the next run reclaims it; none: not processing.
LeaseState = Literal["live", "expired", "none"]


@dataclass(frozen=True)
class RetrainTrigger:
    """A reason to retrain an endpoint's model, what processing it produced, and its
    current or last claim (lease, see :mod:`stead.monitoring.retraining.leases`).

    Attributes:
        holder: the actor who claimed it last (``None`` if never claimed).
        host: the host of the process holding (or that last held) the claim.
        pid: that process's id.
        process_start: that process's start time, if it could be read.
        claimed_at: when the last claim was taken.
        expires_at: when the claim lapses unless renewed; once processed, when it was let
            go.
        claims: how many times it was claimed, reclaims included.
    """

    id: str
    key: str
    endpoint: str
    kind: str
    reason: str
    evidence: dict[str, Any]
    status: str
    created_at: datetime
    created_by: str
    window_key: str | None = None
    window_start: datetime | None = None
    processed_at: datetime | None = None
    outcome: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    holder: str | None = None
    host: str | None = None
    pid: int | None = None
    process_start: str | None = None
    claimed_at: datetime | None = None
    expires_at: datetime | None = None
    claims: int = 0

    def lease_state(self, at: datetime) -> LeaseState:
        """``live`` or ``expired`` at ``at`` while processing; ``none`` otherwise. A
        processing trigger with no expiry (claimed before leases existed) counts as
        expired."""
        if self.status != "processing":
            return "none"
        if self.expires_at is None or self.expires_at <= at:
            return "expired"
        return "live"

    @property
    def holder_alive(self) -> bool | None:
        """Whether the holding process still runs; ``None`` when it cannot be told (another
        host, or no process recorded)."""
        if self.host is None or self.pid is None:
            return None
        return is_alive(ProcessStamp(host=self.host, pid=self.pid, started=self.process_start))

    def describe_holder(self) -> str:
        if self.holder is None:
            return "nobody recorded"
        where = f" on {self.host} pid {self.pid}" if self.host else ""
        return f"{self.holder}{where}"

    def lease_to_dict(self, at: datetime) -> dict[str, Any]:
        """The claim as it stands at ``at``."""
        state = self.lease_state(at)
        return {
            "state": state,
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "holder_alive": self.holder_alive if state != "none" else None,
            "claimed_at": _iso(self.claimed_at),
            "lease_until": _iso(self.expires_at),
            "claims": self.claims,
            "as_of": at.isoformat(),
        }

    def lease_summary(self, at: datetime) -> dict[str, Any]:
        """The trigger by its claim at ``at``, as ``stead retrain list --json`` shows it."""
        return {
            "trigger": self.id,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "status": self.status,
            **self.lease_to_dict(at),
        }

    def to_dict(self, *, at: datetime | None = None) -> dict[str, Any]:
        """Plain JSON; ``lease`` as it stands at ``at`` (default now)."""
        return {
            "id": self.id,
            "key": self.key,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "reason": self.reason,
            "evidence": self.evidence,
            "status": self.status,
            "window": self.window_key,
            "window_start": _iso(self.window_start),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "processed_at": _iso(self.processed_at),
            "outcome": self.outcome,
            "error": self.error,
            "lease": self.lease_to_dict(utcnow() if at is None else at),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).isoformat()
