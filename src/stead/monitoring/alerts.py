"""Raising alerts once, sending them through every sink, and proving the sinks work.

An alert is unique per endpoint, signal and window (its ``key``): raising it again —
the monitor re-run with ``--force``, two monitors at once — finds the stored alert and
sends nothing, unless no sink ever delivered it, in which case it is sent again. The
alert row is written (audited) before anything is sent, and each sink's outcome after,
so the store never holds the write lock while a webhook retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stead.core.clock import utcnow
from stead.core.errors import UsageError
from stead.core.ids import new_id
from stead.monitoring.records import Alert, Delivery
from stead.monitoring.sinks import Sink, build_sinks
from stead.monitoring.tables import AlertDeliveryRow, AlertRow

if TYPE_CHECKING:
    from stead.core.context import Context


@dataclass(frozen=True)
class AlertTest:
    """What ``stead alerts test`` found: each sink delivered or not, and the evidence
    recorded for which model versions."""

    alert: Alert
    evidence_for: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.alert.deliveries) and all(d.delivered for d in self.alert.deliveries)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.alert.deliveries if not d.delivered]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "alert": self.alert.to_dict(),
            "evidence_for": self.evidence_for,
        }


@dataclass(frozen=True)
class AlertSpec:
    """An alert to raise: its key decides whether it exists already."""

    endpoint: str
    signal: str
    window: str | None
    severity: str
    title: str
    message: str
    details: dict[str, Any]
    key: str
    test: bool = False


def alert_key(endpoint: str, signal: str, window: str | None) -> str:
    return f"{endpoint}|{signal}|{window or '-'}"


class AlertService:
    """Alerts of a workspace: raise, deliver, list and test."""

    def __init__(self, context: Context, sinks: Sequence[Sink] | None = None) -> None:
        self._ctx = context
        self._sinks = list(sinks) if sinks is not None else None

    @property
    def sinks(self) -> list[Sink]:
        if self._sinks is None:
            self._sinks = build_sinks(self._ctx.settings)
        return self._sinks

    def raise_alert(
        self,
        *,
        endpoint: str,
        signal: str,
        window: str | None,
        severity: str,
        title: str,
        message: str,
        details: dict[str, Any] | None = None,
        test: bool = False,
        key: str | None = None,
    ) -> tuple[Alert, bool]:
        """Store the alert (once per key) and send it through every sink.

        Returns:
            The alert with its deliveries, and whether this call sent it.
        """
        spec = AlertSpec(
            endpoint=endpoint,
            signal=signal,
            window=window,
            severity=severity,
            title=title,
            message=message,
            details=dict(details or {}),
            test=test,
            key=key or alert_key(endpoint, signal, window),
        )
        return self.raise_alerts(endpoint, [spec])[0]

    def raise_alerts(self, endpoint: str, specs: Sequence[AlertSpec]) -> list[tuple[Alert, bool]]:
        """Store several alerts of one endpoint in one change, then send the new ones.

        Returns:
            Per spec, in order: the alert with its deliveries, and whether this call sent
            it (an alert already delivered under the same key is not sent again).
        """
        if not specs:
            return []
        keys = [s.key for s in specs]
        with self._ctx.store.read() as session:
            known = {
                row.key: row.to_entity(self._deliveries(session, row.id))
                for row in session.scalars(select(AlertRow).where(AlertRow.key.in_(keys)))
            }
        fresh = [s for s in specs if s.key not in known]
        if fresh:
            with self._ctx.store.change("alert.raise", f"endpoint:{endpoint}") as change:
                again = {
                    row.key: row
                    for row in change.session.scalars(
                        select(AlertRow).where(AlertRow.key.in_([s.key for s in fresh]))
                    )
                }
                now = utcnow()
                for spec in fresh:
                    row = again.get(spec.key)  # another monitor raised it meanwhile
                    if row is None:
                        row = AlertRow(
                            id=new_id("al"),
                            key=spec.key,
                            endpoint=spec.endpoint,
                            signal=spec.signal,
                            severity=spec.severity,
                            title=spec.title,
                            message=spec.message,
                            window_key=spec.window,
                            details=spec.details,
                            test=spec.test,
                            created_at=now,
                            created_by=change.actor,
                        )
                        change.session.add(row)
                    known[spec.key] = row.to_entity()
                change.details.update(
                    {"alerts": {s.key: known[s.key].id for s in fresh}, "count": len(fresh)}
                )
        # Send what no sink has delivered yet (new alerts, and earlier ones that failed).
        due = {k: a for k, a in known.items() if not a.delivered and self.sinks}
        sent = self.deliver_all(endpoint, list(due.values())) if due else {}
        return [
            (sent[known[k].id], True) if known[k].id in sent else (known[k], False) for k in keys
        ]

    def deliver_all(self, endpoint: str, alerts: Sequence[Alert]) -> dict[str, Alert]:
        """Send each alert through every sink; record every outcome in one change."""
        outcomes: list[tuple[str, str, bool, int, str | None]] = []
        for alert in alerts:
            for sink in self.sinks:
                try:
                    result = sink.send(alert.payload())
                    outcomes.append(
                        (alert.id, sink.name, result.delivered, result.attempts, result.error)
                    )
                except Exception as exc:  # a broken sink must not stop the others
                    outcomes.append((alert.id, sink.name, False, 1, f"{type(exc).__name__}: {exc}"))
        now = utcnow()
        with self._ctx.store.change("alert.deliver", f"endpoint:{endpoint}") as change:
            for alert_id, name, delivered, attempts, error in outcomes:
                change.session.add(
                    AlertDeliveryRow(
                        id=new_id("ad"),
                        alert_id=alert_id,
                        sink=name,
                        delivered=delivered,
                        attempts=attempts,
                        error=error,
                        at=now,
                    )
                )
            change.details.update(
                {
                    "alerts": [a.id for a in alerts],
                    "delivered": sum(1 for o in outcomes if o[2]),
                    "failed": {f"{o[0]}:{o[1]}": o[4] for o in outcomes if not o[2]},
                }
            )
        with self._ctx.store.read() as session:
            return {
                row.id: row.to_entity(self._deliveries(session, row.id))
                for row in session.scalars(
                    select(AlertRow).where(AlertRow.id.in_([a.id for a in alerts]))
                )
            }

    def get(self, alert_id: str) -> Alert:
        with self._ctx.store.read() as session:
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise UsageError(f"no alert {alert_id}")
            return row.to_entity(self._deliveries(session, row.id))

    def recent(self, endpoint: str | None = None, *, limit: int | None = 100) -> list[Alert]:
        """Alerts, newest first (test alerts included)."""
        query = select(AlertRow).order_by(AlertRow.created_at.desc(), AlertRow.id.desc())
        if endpoint is not None:
            query = query.where(AlertRow.endpoint == endpoint)
        if limit:
            query = query.limit(limit)
        with self._ctx.store.read() as session:
            rows = list(session.scalars(query))
            return [row.to_entity(self._deliveries(session, row.id)) for row in rows]

    def test(self, endpoint: str = "stead") -> Alert:
        """Send a test alert through every sink; each sink's outcome is recorded.

        Raises:
            UsageError: ``[alerts] sinks`` is empty.
        """
        if not self.sinks:
            raise UsageError(
                'no alert sinks are configured: add [alerts] sinks = ["stdout", ...] to '
                "stead.toml (see docs/monitoring.md)"
            )
        alert, _ = self.raise_alert(
            endpoint=endpoint,
            signal="test",
            window=None,
            severity="info",
            title=f"Test alert from stead for {endpoint}",
            message="If you can read this, this alert sink works. No action needed.",
            details={"sinks": [s.name for s in self.sinks]},
            test=True,
            key=f"test|{new_id('t')}",
        )
        return alert

    @staticmethod
    def _deliveries(session: Any, alert_id: str) -> tuple[Delivery, ...]:
        rows = session.scalars(
            select(AlertDeliveryRow)
            .where(AlertDeliveryRow.alert_id == alert_id)
            .order_by(AlertDeliveryRow.at, AlertDeliveryRow.id)
        )
        return tuple(row.to_entity() for row in rows)
