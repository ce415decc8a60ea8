"""Acting on a window's results: the policy's decisions, stored once per window with
their evidence, their alerts raised and their retrain triggers created.

A decision is keyed by endpoint, window spec, window and kind, so evaluating a window
again (``--force``, or labels that arrived later) never repeats a decision, an alert or a
trigger. Alerts of a window are raised in one change and sent after it; the decisions
follow in one change, naming the alert and trigger each caused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stead.core.clock import utcnow
from stead.core.ids import new_id
from stead.monitoring.alerts import AlertService, AlertSpec, alert_key
from stead.monitoring.history import MonitorHistory
from stead.monitoring.policy import decide
from stead.monitoring.records import Alert, Decision, MonitorResult, RetrainTrigger
from stead.monitoring.retraining.triggers import TriggerStore
from stead.monitoring.settings import PolicySettings
from stead.monitoring.tables import MonitorDecisionRow
from stead.predictions.windows import Window, WindowSpec

if TYPE_CHECKING:
    from stead.core.context import Context


@dataclass(frozen=True)
class Acted:
    """What acting on one window did."""

    decisions: list[Decision]
    alerts: list[Alert]
    triggers: list[RetrainTrigger]


class PolicyActions:
    """Applies ``[policy]`` to windows of one workspace."""

    def __init__(
        self,
        context: Context,
        policy: PolicySettings,
        *,
        alerts: AlertService,
        triggers: TriggerStore,
        history: MonitorHistory,
    ) -> None:
        self._ctx = context
        self._policy = policy
        self._alerts = alerts
        self._triggers = triggers
        self._history = history

    def act(
        self,
        endpoint: str,
        spec: WindowSpec,
        window: Window,
        results: dict[str, MonitorResult] | list[MonitorResult],
    ) -> Acted:
        """Decide on one window, raise its alerts and triggers, store the decisions."""
        if isinstance(results, list):
            results = {r.signal: r for r in results}
        policy = self._policy
        depth = max(policy.revisit_within, policy.decay_windows)
        history = self._history.past(endpoint, spec.name, window.start, depth)
        planned = decide(endpoint, window.label, results, history, policy)
        evidence_ids = {s: r.id for s, r in results.items()}
        keyed = {
            f"{endpoint}|{spec.name}|{window.key}|{p.kind}|{p.trigger_kind or '-'}": p
            for p in planned
        }
        made = self._history.decisions_made(list(keyed))
        pending: list[dict[str, Any]] = []
        specs: list[AlertSpec] = []
        created_triggers: list[RetrainTrigger] = []
        for key, plan in keyed.items():
            if key in made:
                continue
            trigger_id = None
            kind, action, message = plan.kind, plan.action, plan.message
            if plan.action == "trigger":
                trigger, created = self._triggers.create(
                    endpoint=endpoint,
                    kind=plan.trigger_kind or "monitor",
                    reason=plan.title,
                    evidence={**plan.evidence, "results": evidence_ids, "window": window.key},
                    window_key=window.key,
                    window_start=window.start,
                    cooldown=policy.cooldown,
                )
                trigger_id = trigger.id
                if created:
                    created_triggers.append(trigger)
                elif trigger.window_key != window.key:
                    kind, action = "suppressed_retrain", "none"
                    message = (
                        f"{plan.message} Not triggered again: trigger {trigger.id} (window "
                        f"{trigger.window_key}, {trigger.status}) is still open or within the "
                        f"retrain cooldown of {policy.retrain_cooldown}."
                    )
            alert = None
            if action != "none":
                alert = AlertSpec(
                    endpoint=endpoint,
                    signal=plan.signal,
                    window=window.key,
                    severity=plan.severity,
                    title=plan.title,
                    message=message,
                    details={"evidence": plan.evidence, "trigger": trigger_id, "kind": kind},
                    key=alert_key(endpoint, plan.signal, window.key),
                )
                specs.append(alert)
            pending.append(
                {
                    "key": key,
                    "kind": kind,
                    "action": action,
                    "severity": plan.severity,
                    "message": message,
                    "evidence": {**plan.evidence, "results": evidence_ids},
                    "alert_key": alert.key if alert else None,
                    "trigger_id": trigger_id,
                }
            )
        if not pending:
            return Acted([], [], created_triggers)
        raised = self._alerts.raise_alerts(endpoint, specs)
        ids = {a.key: a.id for a, _ in raised}
        decisions = self._decide(endpoint, spec, window, pending, ids)
        return Acted(decisions, [a for a, sent in raised if sent], created_triggers)

    def _decide(
        self,
        endpoint: str,
        spec: WindowSpec,
        window: Window,
        pending: list[dict[str, Any]],
        alert_ids: dict[str, str],
    ) -> list[Decision]:
        """Store a window's decisions, with the evidence behind each, in one change."""
        with self._ctx.store.change("monitor.decision", f"endpoint:{endpoint}") as change:
            decisions = []
            now = utcnow()
            for item in pending:
                row = MonitorDecisionRow(
                    id=new_id("md"),
                    key=item["key"],
                    endpoint=endpoint,
                    spec=spec.name,
                    window_key=window.key,
                    window_start=window.start,
                    window_end=window.end,
                    kind=item["kind"],
                    action=item["action"],
                    severity=item["severity"],
                    message=item["message"],
                    evidence=item["evidence"],
                    alert_id=alert_ids.get(item["alert_key"]) if item["alert_key"] else None,
                    trigger_id=item["trigger_id"],
                    created_at=now,
                    created_by=change.actor,
                )
                change.session.add(row)
                decisions.append(row.to_entity())
            change.details.update(
                {
                    "window": window.key,
                    "decisions": {d.id: f"{d.kind}:{d.action}" for d in decisions},
                    "alerts": [d.alert_id for d in decisions if d.alert_id],
                    "triggers": [d.trigger_id for d in decisions if d.trigger_id],
                }
            )
        return decisions
