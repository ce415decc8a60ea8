"""One monitor run: evaluate the new windows, re-check windows still waiting for labels,
apply the policy, raise alerts and triggers, and record the checklist's evidence.

Idempotent per window: a window that has results is not evaluated again unless
``force`` is given (then its new results supersede the old, and decisions and alerts
already made for it are not repeated). Measured performance and KPIs are the exception
by nature: labels arrive weeks later, so a window's feedback signals are evaluated again
whenever more labels arrived, until its label coverage reaches ``label_coverage`` or it
is ``label_horizon`` old; then its result is final.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stead.core.clock import utcnow
from stead.core.errors import UsageError
from stead.core.ids import new_id
from stead.monitoring.actions import PolicyActions
from stead.monitoring.alerts import AlertService
from stead.monitoring.history import MonitorHistory
from stead.monitoring.records import (
    LAYERS,
    Alert,
    Decision,
    MonitorResult,
    RetrainTrigger,
    SignalResult,
)
from stead.monitoring.retraining.triggers import TriggerStore
from stead.monitoring.settings import MonitorConfig
from stead.monitoring.tables import MonitorResultRow
from stead.monitoring.window_signals import (
    References,
    VersionContext,
    WindowEvaluator,
    production_version,
)
from stead.predictions.feedback import FeedbackService
from stead.predictions.layout import TIMESTAMP
from stead.predictions.record import check_endpoint
from stead.predictions.service import PredictionService
from stead.predictions.window_reader import LogWindows, WindowRows
from stead.predictions.windows import Window, WindowSpec

if TYPE_CHECKING:
    from stead.core.context import Context

MICROSECOND = timedelta(microseconds=1)
# The columns of ``ws.feedback.read`` the signals use, for a window without feedback.
NO_FEEDBACK = ["request_id", "timestamp", "model_version", "role", "error", "label"]


@dataclass(frozen=True)
class WindowOutcome:
    """What a run did with one window."""

    window: Window
    model_version: str | None
    results: list[MonitorResult]
    decisions: list[Decision] = field(default_factory=list)
    recheck: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.to_dict(),
            "model_version": self.model_version,
            "recheck": self.recheck,
            "results": [r.to_dict(details=False) for r in self.results],
            "decisions": [d.to_dict() for d in self.decisions],
        }


@dataclass(frozen=True)
class MonitorRun:
    """The outcome of ``stead monitor run``."""

    endpoint: str
    spec: str
    until: datetime
    windows: list[WindowOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    triggers: list[RetrainTrigger] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        new = [w for w in self.windows if not w.recheck]
        rechecked = len(self.windows) - len(new)
        text = f"{self.endpoint}: evaluated {len(new)} new {self.spec} window(s)"
        if rechecked:
            text += f", re-checked {rechecked} for new labels"
        if self.skipped:
            text += f", {len(self.skipped)} already evaluated"
        if not self.windows and not self.skipped:
            text += f" (nothing complete before {self.until:%Y-%m-%d %H:%M} UTC)"
        if self.alerts:
            text += f"; {len(self.alerts)} alert(s)"
        if self.triggers:
            text += f"; {len(self.triggers)} retrain trigger(s)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "spec": self.spec,
            "until": self.until.isoformat(),
            "message": self.message,
            "windows": [w.to_dict() for w in self.windows],
            "skipped": self.skipped,
            "alerts": [a.to_dict() for a in self.alerts],
            "triggers": [t.to_dict() for t in self.triggers],
            "evidence": self.evidence,
        }


class MonitorRunner:
    """Evaluates an endpoint's windows and acts on them (used by ``ws.monitors``)."""

    def __init__(
        self,
        context: Context,
        config: MonitorConfig,
        *,
        references: References,
        alerts: AlertService,
        triggers: TriggerStore,
        history: MonitorHistory,
        predictions: PredictionService,
        feedback: FeedbackService,
        record_evidence: Callable[[str, str, bool, str, dict[str, Any]], None],
    ) -> None:
        self._ctx = context
        self._config = config
        self._references = references
        self._alerts = alerts
        self._triggers = triggers
        self._history = history
        self._record_evidence = record_evidence
        self._evaluator = WindowEvaluator(context, config, references)
        self._actions = PolicyActions(
            context, config.policy, alerts=alerts, triggers=triggers, history=history
        )
        self._predictions = predictions
        self._feedback = feedback

    def run(
        self,
        endpoint: str,
        *,
        window: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        force: bool = False,
        on_window: Callable[[WindowOutcome], None] | None = None,
    ) -> MonitorRun:
        check_endpoint(endpoint)
        monitoring = self._config.monitoring
        if not monitoring.enabled:
            raise UsageError("[monitoring] enabled = false in stead.toml: monitors are off")
        spec = WindowSpec.parse(window or monitoring.window)
        now = utcnow()
        end = min(until or now, now - monitoring.grace_period)
        reader = LogWindows(self._predictions.directory, endpoint)
        run = MonitorRun(endpoint=endpoint, spec=spec.name, until=end)
        for rows in self._windows(reader, spec, since, end, force):
            if not force and self._history.exists(endpoint, spec.name, rows.window.key):
                run.skipped.append(rows.window.key)
                continue
            outcome = self._evaluate(endpoint, spec, rows, run, now=now)
            if outcome is not None:
                run.windows.append(outcome)
                if on_window is not None:
                    on_window(outcome)
        evaluated = {w.window.key for w in run.windows}
        for settled in self._recheck(endpoint, spec, reader, run, now=now, skip=evaluated):
            run.windows.append(settled)
            if on_window is not None:
                on_window(settled)
        self._evidence(endpoint, run)
        return run

    # -- windows ----------------------------------------------------------------------

    def _windows(
        self,
        reader: LogWindows,
        spec: WindowSpec,
        since: datetime | None,
        end: datetime,
        force: bool,
    ) -> Iterator[WindowRows]:
        endpoint = reader.endpoint
        if spec.kind == "count":
            last = (
                None
                if (force or since is not None)
                else self._history.last_window(endpoint, spec.name)
            )
            after = (
                (last.window_end, last.cursor or "", last.window_index or 0)
                if last is not None
                else None
            )
            return reader.count_windows(spec, end, after=after)
        start = since
        if start is None and not force:
            last = self._history.last_window(endpoint, spec.name)
            start = last.window_end if last is not None else None
        if start is None:
            first = reader.first_day()
            if first is None:
                return iter(())
            start = datetime.combine(first, datetime.min.time(), tzinfo=end.tzinfo)
        return reader.time_windows(spec, start, end)

    def _evaluate(
        self, endpoint: str, spec: WindowSpec, rows: WindowRows, run: MonitorRun, *, now: datetime
    ) -> WindowOutcome | None:
        ref = production_version(rows.table)
        if ref is None:
            return None
        version = self._references.get(ref)
        results, _ = self._evaluator.log_signals(rows, version)
        results.extend(self._feedback_results(endpoint, rows, version, now=now))
        stored = self._store(endpoint, rows, ref, results, action="monitor.window")
        decisions = self._acted(endpoint, spec, rows.window, stored, run)
        return WindowOutcome(rows.window, ref, stored, decisions)

    def _feedback_results(
        self, endpoint: str, rows: WindowRows, version: VersionContext, *, now: datetime
    ) -> list[SignalResult]:
        window = rows.window
        inclusive = window.kind == "count"
        upper = window.end + MICROSECOND if inclusive else window.end
        label_count = self._history.labels_in(
            endpoint, window.start, window.end, inclusive=inclusive
        )
        if label_count:
            feedback = self._feedback.read(endpoint, window.start, upper)
            ids = set(rows.table["request_id"].to_pylist())
            feedback = feedback[feedback["request_id"].isin(ids)]
        else:  # nothing to join: skip reading the window again
            feedback = pd.DataFrame(columns=NO_FEEDBACK)
        requests = rows.requests
        labelled = feedback[feedback["role"].isin(("production", "canary", "fallback"))]
        coverage = labelled["request_id"].nunique() / requests if requests else 1.0
        final = (
            coverage >= self._config.monitoring.label_coverage
            or now >= window.end + self._config.monitoring.label_horizon_period
        )
        results = self._evaluator.feedback_signals(
            feedback, version, predictions=requests, final=final
        )
        first = rows.table["request_id"][0].as_py() if rows.table.num_rows else None
        return [
            SignalResult(
                r.signal,
                r.status,
                {**r.summary, "label_count": label_count},
                {**r.details, "first_request": first},
                r.message,
                r.final,
            )
            for r in results
        ]

    def _recheck(
        self,
        endpoint: str,
        spec: WindowSpec,
        reader: LogWindows,
        run: MonitorRun,
        *,
        now: datetime,
        skip: set[str],
    ) -> list[WindowOutcome]:
        horizon = self._config.monitoring.label_horizon_period
        outcomes = []
        for window in self._history.unsettled(endpoint, spec.name, now - horizon * 2):
            if window.key in skip:
                continue
            performance = window.results["performance"]
            inclusive = spec.kind == "count"
            count = self._history.labels_in(endpoint, window.start, window.end, inclusive=inclusive)
            expired = now >= window.end + horizon
            if count == performance.summary.get("label_count") and not expired:
                continue
            rows = self._reread(reader, spec, performance)
            ref = window.model_version
            if rows is None or ref is None:
                continue
            version = self._references.get(ref)
            results = self._feedback_results(endpoint, rows, version, now=now)
            stored = self._store(endpoint, rows, ref, results, action="monitor.recheck")
            full = self._history.window(endpoint, spec.name, window.key)
            decisions = self._acted(endpoint, spec, rows.window, full.results if full else {}, run)
            outcomes.append(WindowOutcome(rows.window, ref, stored, decisions, recheck=True))
        return outcomes

    def _reread(
        self, reader: LogWindows, spec: WindowSpec, result: MonitorResult
    ) -> WindowRows | None:
        window = Window(
            spec=spec.name,
            kind=spec.kind,
            start=result.window_start,
            end=result.window_end,
            index=result.window_index,
            cursor=result.cursor,
        )
        if spec.kind == "time":
            return WindowRows(window, reader.read(window.start, window.end))
        table = reader.read(window.start, window.end + MICROSECOND)
        first = result.details.get("first_request") or ""
        table = table.filter(_between(table, window.start, first, window.end, window.cursor or ""))
        return WindowRows(window, table)

    # -- storing and acting -----------------------------------------------------------

    def _store(
        self,
        endpoint: str,
        rows: WindowRows,
        ref: str,
        results: list[SignalResult],
        *,
        action: str,
    ) -> list[MonitorResult]:
        window = rows.window
        now = utcnow()
        with self._ctx.store.change(action, f"endpoint:{endpoint}") as change:
            stored = []
            for result in results:
                row = MonitorResultRow(
                    id=new_id("mr"),
                    endpoint=endpoint,
                    spec=window.spec,
                    window_key=window.key,
                    window_kind=window.kind,
                    window_start=window.start,
                    window_end=window.end,
                    window_index=window.index,
                    cursor=window.cursor,
                    signal=result.signal,
                    layer=LAYERS[result.signal],
                    status=result.status,
                    final=result.final,
                    model_version=ref,
                    rows=rows.requests,
                    summary=result.summary,
                    details=result.details,
                    message=result.message,
                    evaluated_at=now,
                    evaluated_by=change.actor,
                )
                change.session.add(row)
                stored.append(row.to_entity())
            change.details.update(
                {
                    "window": window.key,
                    "model_version": ref,
                    "rows": rows.requests,
                    "statuses": {r.signal: r.status for r in results},
                }
            )
        return stored

    def _acted(
        self,
        endpoint: str,
        spec: WindowSpec,
        window: Window,
        results: dict[str, MonitorResult] | list[MonitorResult],
        run: MonitorRun,
    ) -> list[Decision]:
        acted = self._actions.act(endpoint, spec, window, results)
        run.alerts.extend(acted.alerts)
        run.triggers.extend(acted.triggers)
        return acted.decisions

    def _evidence(self, endpoint: str, run: MonitorRun) -> None:
        """The checklist's drift_detection and performance_logged evidence, once a run."""
        if not self._config.monitoring.record_evidence or not run.windows:
            return
        latest = max(run.windows, key=lambda w: w.window.start)
        ref = latest.model_version
        if ref is None:
            return
        by_signal = {r.signal: r for r in latest.results}
        drift = by_signal.get("data_drift")
        new = [w for w in run.windows if not w.recheck]
        if drift is not None and new:
            drifted = drift.summary.get("drifted", [])
            self._record_evidence(
                ref,
                "drift_detection",
                True,
                f"monitor checked {len(new)} {run.spec} window(s) of endpoint {endpoint} "
                f"through {latest.window.label}: {drift.summary.get('checked', 0)} features "
                f"against the training profile, drifted: {', '.join(drifted) or 'none'}",
                {"endpoint": endpoint, "window": latest.window.key, "result_id": drift.id},
            )
            run.evidence.append(f"{ref}: drift_detection")
        judged = [
            r
            for w in run.windows
            for r in w.results
            if r.signal == "performance" and r.status in ("ok", "alert") and r.model_version == ref
        ]
        if judged:
            newest = max(judged, key=lambda r: r.window_start)
            s = newest.summary
            self._record_evidence(
                ref,
                "performance_logged",
                True,
                f"measured {s['metric']} {s['value']:.4f} on {s['labelled']} labelled predictions "
                f"of endpoint {endpoint} in window {newest.window_key} (training "
                f"{s['training'] if s['training'] is None else format(s['training'], '.4f')})",
                {"endpoint": endpoint, "window": newest.window_key, "result_id": newest.id},
            )
            run.evidence.append(f"{ref}: performance_logged")


def _between(table: pa.Table, start: datetime, first: str, end: datetime, last: str) -> pa.Array:
    ts = table["timestamp"]
    rid = table["request_id"]
    low, high = pa.scalar(start, TIMESTAMP), pa.scalar(end, TIMESTAMP)
    after = pc.or_(pc.greater(ts, low), pc.and_(pc.equal(ts, low), pc.greater_equal(rid, first)))
    before = pc.or_(pc.less(ts, high), pc.and_(pc.equal(ts, high), pc.less_equal(rid, last)))
    return pc.and_(after, before)
