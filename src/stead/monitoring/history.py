"""Reading what monitors stored: the newest result per window and signal, a window's
neighbours for the policy, the state and trend of an endpoint.

Every query is bounded by a number of windows or a time span, never by the whole
history: the policy looks back ``max(revisit_within, decay_windows)`` windows, label
rechecks ``label_horizon``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from stead.monitoring.policy import PastWindow
from stead.monitoring.records import Decision, MonitorResult, RetrainTrigger
from stead.monitoring.tables import MonitorDecisionRow, MonitorResultRow
from stead.predictions.tables import FeedbackRow

if TYPE_CHECKING:
    from stead.core.context import Context


@dataclass(frozen=True)
class WindowResults:
    """The newest result of each signal of one window."""

    key: str
    start: datetime
    end: datetime
    results: dict[str, MonitorResult]

    @property
    def model_version(self) -> str | None:
        for result in self.results.values():
            if result.model_version:
                return result.model_version
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.key,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "model_version": self.model_version,
            "signals": {s: r.to_dict(details=False) for s, r in self.results.items()},
        }


@dataclass(frozen=True)
class MonitorState:
    """An endpoint's monitoring at a glance: the newest windows (oldest first), recent
    decisions, alerts and triggers."""

    endpoint: str
    spec: str | None
    windows: list[WindowResults]
    decisions: list[Decision] = field(default_factory=list)
    triggers: list[RetrainTrigger] = field(default_factory=list)

    @property
    def latest(self) -> WindowResults | None:
        return self.windows[-1] if self.windows else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "spec": self.spec,
            "latest": None if self.latest is None else self.latest.to_dict(),
            "windows": [w.to_dict() for w in self.windows],
            "decisions": [d.to_dict() for d in self.decisions],
            "triggers": [t.to_dict() for t in self.triggers],
        }


def group(rows: Iterable[MonitorResult]) -> list[WindowResults]:
    """Results grouped by window, newest result per signal, windows oldest first."""
    windows: dict[str, dict[str, MonitorResult]] = {}
    bounds: dict[str, tuple[datetime, datetime]] = {}
    for result in rows:
        per = windows.setdefault(result.window_key, {})
        known = per.get(result.signal)
        if known is None or (result.evaluated_at, result.id) > (known.evaluated_at, known.id):
            per[result.signal] = result
        bounds[result.window_key] = (result.window_start, result.window_end)
    ordered = sorted(windows, key=lambda k: bounds[k])
    return [WindowResults(k, bounds[k][0], bounds[k][1], windows[k]) for k in ordered]


class MonitorHistory:
    """Queries over stored monitor results and decisions."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def exists(self, endpoint: str, spec: str, window_key: str) -> bool:
        with self._ctx.store.read() as session:
            found = session.scalar(
                select(MonitorResultRow.id)
                .where(
                    MonitorResultRow.endpoint == endpoint,
                    MonitorResultRow.spec == spec,
                    MonitorResultRow.window_key == window_key,
                )
                .limit(1)
            )
        return found is not None

    def last_window(self, endpoint: str, spec: str) -> MonitorResult | None:
        """The newest evaluated window of ``spec`` (any of its results)."""
        with self._ctx.store.read() as session:
            row = session.scalars(
                select(MonitorResultRow)
                .where(MonitorResultRow.endpoint == endpoint, MonitorResultRow.spec == spec)
                .order_by(MonitorResultRow.window_start.desc(), MonitorResultRow.window_end.desc())
                .limit(1)
            ).first()
            return row.to_entity() if row else None

    def windows(
        self,
        endpoint: str,
        spec: str | None = None,
        *,
        last: int | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        signals: builtins.list[str] | None = None,
    ) -> builtins.list[WindowResults]:
        """Evaluated windows, oldest first: the ``last`` newest, or those after ``since``."""
        spec = spec or self.newest_spec(endpoint)
        if spec is None:
            return []
        keys = select(MonitorResultRow.window_key, MonitorResultRow.window_start).where(
            MonitorResultRow.endpoint == endpoint, MonitorResultRow.spec == spec
        )
        if since is not None:
            keys = keys.where(MonitorResultRow.window_start >= since)
        if before is not None:
            keys = keys.where(MonitorResultRow.window_start < before)
        keys = keys.group_by(MonitorResultRow.window_key, MonitorResultRow.window_start)
        keys = keys.order_by(MonitorResultRow.window_start.desc())
        if last is not None:
            keys = keys.limit(last)
        with self._ctx.store.read() as session:
            wanted = [k for k, _ in session.execute(keys)]
            if not wanted:
                return []
            query = select(MonitorResultRow).where(
                MonitorResultRow.endpoint == endpoint,
                MonitorResultRow.spec == spec,
                MonitorResultRow.window_key.in_(wanted),
            )
            if signals is not None:
                query = query.where(MonitorResultRow.signal.in_(signals))
            rows = [row.to_entity() for row in session.scalars(query)]
        return group(rows)

    def newest_spec(self, endpoint: str) -> str | None:
        with self._ctx.store.read() as session:
            return session.scalar(
                select(MonitorResultRow.spec)
                .where(MonitorResultRow.endpoint == endpoint)
                .order_by(MonitorResultRow.evaluated_at.desc())
                .limit(1)
            )

    def past(
        self, endpoint: str, spec: str, before: datetime, count: int
    ) -> builtins.list[PastWindow]:
        """The ``count`` windows before ``before``, newest first, as the policy sees them."""
        windows = self.windows(
            endpoint,
            spec,
            last=count,
            before=before,
            signals=["data_drift", "performance"],
        )
        past = []
        for window in reversed(windows):
            drift = window.results.get("data_drift")
            performance = window.results.get("performance")
            judged = performance is not None and performance.status in ("ok", "alert")
            past.append(
                PastWindow(
                    key=window.key,
                    drifted=tuple(drift.summary.get("drifted", [])) if drift else (),
                    performance_judged=judged,
                    performance_below=bool(
                        judged and performance and performance.summary.get("below")
                    ),
                )
            )
        return past

    def unsettled(self, endpoint: str, spec: str, since: datetime) -> builtins.list[WindowResults]:
        """Windows since ``since`` whose newest performance result is not final."""
        windows = self.windows(endpoint, spec, since=since, signals=["performance", "kpi"])
        return [
            w for w in windows if "performance" in w.results and not w.results["performance"].final
        ]

    def decisions_made(self, keys: builtins.list[str]) -> set[str]:
        """Which of these decision keys exist (the policy decides each once)."""
        if not keys:
            return set()
        with self._ctx.store.read() as session:
            return set(
                session.scalars(
                    select(MonitorDecisionRow.key).where(MonitorDecisionRow.key.in_(keys))
                )
            )

    def decisions(self, endpoint: str, *, limit: int | None = 50) -> builtins.list[Decision]:
        """Decisions, newest first."""
        query = (
            select(MonitorDecisionRow)
            .where(MonitorDecisionRow.endpoint == endpoint)
            .order_by(MonitorDecisionRow.window_start.desc(), MonitorDecisionRow.created_at.desc())
        )
        if limit:
            query = query.limit(limit)
        with self._ctx.store.read() as session:
            return [row.to_entity() for row in session.scalars(query)]

    def labels_in(self, endpoint: str, start: datetime, end: datetime, *, inclusive: bool) -> int:
        """Distinct request ids with feedback predicted in the window (an index range)."""
        upper = FeedbackRow.predicted_at <= end if inclusive else FeedbackRow.predicted_at < end
        with self._ctx.store.read() as session:
            count = session.scalar(
                select(func.count(func.distinct(FeedbackRow.request_id))).where(
                    FeedbackRow.endpoint == endpoint,
                    FeedbackRow.predicted_at >= start,
                    upper,
                )
            )
        return int(count or 0)

    def window(self, endpoint: str, spec: str, key: str) -> WindowResults | None:
        """Every signal's newest result of one window."""
        with self._ctx.store.read() as session:
            rows = [
                row.to_entity()
                for row in session.scalars(
                    select(MonitorResultRow).where(
                        MonitorResultRow.endpoint == endpoint,
                        MonitorResultRow.spec == spec,
                        MonitorResultRow.window_key == key,
                    )
                )
            ]
        grouped = group(rows)
        return grouped[0] if grouped else None
