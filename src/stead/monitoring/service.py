"""``ws.monitors``: monitor endpoints, act on what they find, and show it.

::

    run = ws.monitors.run("credit", window="1d")       # new windows since the last run
    ws.monitors.state("credit").latest                  # newest window, every signal
    ws.monitors.test_alerts("credit")                   # every sink; alerts_tested evidence
    ws.monitors.retrain("credit", reason="new policy")  # a manual trigger, processed now
    ws.monitors.triggers("credit")                      # each with its lease: who, until
    ws.monitors.rollback_drill("credit")                # rollback_verified evidence
    ws.monitors.report("credit", "report.html")         # a self-contained HTML report
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stead.core.duration import parse_duration
from stead.core.errors import NotFound, UsageError
from stead.monitoring.alerts import AlertService, AlertTest
from stead.monitoring.drift.reference import version_reference
from stead.monitoring.history import MonitorHistory, MonitorState, WindowResults
from stead.monitoring.monitor_run import MonitorRun, MonitorRunner, WindowOutcome
from stead.monitoring.records import Alert, Decision, RetrainTrigger
from stead.monitoring.report.html import render_report
from stead.monitoring.retraining.leases import TriggerLeases
from stead.monitoring.retraining.retrainer import Retrainer
from stead.monitoring.retraining.triggers import TriggerStore
from stead.monitoring.settings import MonitorConfig, monitor_config
from stead.monitoring.window_signals import References
from stead.predictions.record import check_endpoint
from stead.predictions.windows import WindowSpec
from stead.serving.deploy.drill import Driller, RollbackDrill

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService
    from stead.predictions.feedback import FeedbackService
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry
    from stead.serving.deploy.endpoints import EndpointService
    from stead.training.service import RunService


class MonitorService:
    """The monitoring stage of a workspace (``ws.monitors``)."""

    def __init__(
        self,
        context: Context,
        *,
        datasets: DatasetService,
        runs: RunService,
        models: ModelRegistry,
        endpoints: EndpointService,
        predictions: PredictionService,
        feedback: FeedbackService,
    ) -> None:
        self._ctx = context
        self._datasets = datasets
        self._runs = runs
        self._models = models
        self._endpoints = endpoints
        self._predictions = predictions
        self._feedback = feedback
        # Monitoring's own stores, of its own tables; every other stage's service is a peer.
        self.history = MonitorHistory(context)
        self.triggers_store = TriggerStore(context)

    @cached_property
    def config(self) -> MonitorConfig:
        """``[monitoring]``, ``[policy]``, ``[kpis]`` and ``[retraining]``, parsed."""
        return monitor_config(self._ctx.settings)

    @cached_property
    def leases(self) -> TriggerLeases:
        """Claims on retrain triggers, each lasting ``[retraining] lease``."""
        length = parse_duration(self.config.retraining.lease, what="[retraining] lease")
        return TriggerLeases(self._ctx, length=length)

    @cached_property
    def alert_service(self) -> AlertService:
        return AlertService(self._ctx)

    # -- monitoring -------------------------------------------------------------------

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
        """Evaluate the endpoint's complete windows not evaluated yet, and act on them.

        Args:
            endpoint: the endpoint whose prediction log is read.
            window: ``1h``, ``1d`` ... or a count such as ``10000``; default
                ``[monitoring] window``.
            since: evaluate windows from here (default: after the last evaluated one).
            until: up to here (default: now minus ``[monitoring] grace``).
            force: evaluate windows again even if they have results.
            on_window: told each window's outcome as it is stored.

        Returns:
            The windows evaluated, alerts sent and triggers raised. With ``[retraining]
            automatic = true`` each new trigger has been processed when this returns, and
            so has each trigger whose holder's lease expired (reclaimed).

        Raises:
            UsageError: a bad endpoint name or window, or monitoring is disabled.
            SettingsError: a monitoring setting is wrong.
        """
        runner = MonitorRunner(
            self._ctx,
            self.config,
            references=References(self._ctx, self._models, self._runs, self.config),
            alerts=self.alert_service,
            triggers=self.triggers_store,
            history=self.history,
            predictions=self._predictions,
            feedback=self._feedback,
            record_evidence=self._record,
        )
        run = runner.run(
            endpoint, window=window, since=since, until=until, force=force, on_window=on_window
        )
        if self.config.retraining.automatic:
            # Also the triggers a crashed process left behind once their lease expired:
            # while one is open the cooldown raises no new trigger, so nothing else would.
            new = {t.id for t in run.triggers}
            stale = [
                t
                for t in self.leases.takeable(endpoint)
                if t.status == "processing" and t.id not in new
            ]
            processed = [self.process(t.id) for t in run.triggers if t.status == "pending"]
            run.triggers[:] = processed + [self.process(t.id) for t in stale]
        return run

    def watch(
        self,
        endpoint: str,
        *,
        every: str = "5m",
        window: str | None = None,
        iterations: int | None = None,
        stop: threading.Event | None = None,
        on_run: Callable[[MonitorRun], None] | None = None,
    ) -> int:
        """Run the monitor every ``every`` until ``iterations`` runs or ``stop`` is set.

        Returns:
            How many runs were made.
        """
        pause = parse_duration(every, what="--every").total_seconds()
        if iterations is not None and iterations < 1:
            raise UsageError("--iterations must be at least 1")
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set():
            outcome = self.run(endpoint, window=window)
            done += 1
            if on_run is not None:
                on_run(outcome)
            if iterations is not None and done >= iterations:
                break
            stop.wait(pause)
        return done

    # -- reading ----------------------------------------------------------------------

    def state(self, endpoint: str, *, window: str | None = None, last: int = 12) -> MonitorState:
        """The newest ``last`` windows (each signal's newest result), recent decisions and
        open or recent triggers."""
        check_endpoint(endpoint)
        spec = self._spec(endpoint, window)
        windows = self.history.windows(endpoint, spec, last=last) if spec else []
        return MonitorState(
            endpoint=endpoint,
            spec=spec,
            windows=windows,
            decisions=self.history.decisions(endpoint, limit=20),
            triggers=self.triggers_store.list(endpoint)[-10:],
        )

    def windows(
        self,
        endpoint: str,
        *,
        window: str | None = None,
        last: int | None = None,
        since: datetime | None = None,
    ) -> builtins.list[WindowResults]:
        """Evaluated windows, oldest first."""
        spec = self._spec(endpoint, window)
        return self.history.windows(endpoint, spec, last=last, since=since) if spec else []

    def decisions(self, endpoint: str, *, limit: int | None = 50) -> builtins.list[Decision]:
        return self.history.decisions(endpoint, limit=limit)

    def alerts(
        self, endpoint: str | None = None, *, limit: int | None = 100
    ) -> builtins.list[Alert]:
        return self.alert_service.recent(endpoint, limit=limit)

    def triggers(
        self, endpoint: str | None = None, *, status: str | None = None
    ) -> builtins.list[RetrainTrigger]:
        """Retrain triggers, oldest first, each with its current or last claim (lease)."""
        return self.triggers_store.list(endpoint, status=status)

    def _spec(self, endpoint: str, window: str | None) -> str | None:
        if window is not None:
            return WindowSpec.parse(window).name
        return self.history.newest_spec(endpoint)

    # -- alerts -----------------------------------------------------------------------

    def test_alerts(self, endpoint: str | None = None, *, model: str | None = None) -> AlertTest:
        """Send a test alert through every sink and record ``alerts_tested`` evidence.

        The evidence goes to ``model`` if given, else to the production version of
        ``endpoint``, else to that of every endpoint.

        Returns:
            Each sink's outcome, and the versions the evidence was recorded for.

        Raises:
            UsageError: no sinks are configured.
        """
        alert = self.alert_service.test(endpoint or "stead")
        versions = self._evidence_targets(endpoint, model)
        delivered = [d.sink for d in alert.deliveries if d.delivered]
        failed = [f"{d.sink} ({d.error})" for d in alert.deliveries if not d.delivered]
        text = f"test alert {alert.id} delivered by {', '.join(delivered) or 'no sink'}"
        if failed:
            text += f"; failed: {'; '.join(failed)}"
        for ref in versions:
            self._record(
                ref,
                "alerts_tested",
                bool(alert.deliveries) and all(d.delivered for d in alert.deliveries),
                text,
                {"alert_id": alert.id, "delivered": delivered, "failed": len(failed)},
            )
        return AlertTest(alert=alert, evidence_for=versions)

    def _evidence_targets(self, endpoint: str | None, model: str | None) -> builtins.list[str]:
        if model is not None:
            return [self._models.get(model).ref]
        if endpoint is not None:
            return [self._endpoints.get(endpoint).policy.production]
        return sorted({e.policy.production for e in self._endpoints.list()})

    def _record(
        self, ref: str, item: str, passed: bool, evidence: str, details: dict[str, Any]
    ) -> None:
        self._models.record_evidence(ref, item, passed=passed, evidence=evidence, details=details)

    # -- retraining -------------------------------------------------------------------

    def retrain(self, endpoint: str, *, reason: str, spec: str = "production") -> RetrainTrigger:
        """A manual retrain trigger (a business change, new data), processed now.

        Args:
            endpoint: whose production model to retrain.
            reason: recorded with the trigger.
            spec: ``production`` (the production run's recorded spec) or ``current``
                (``stead.toml``'s ``[training]``).

        Raises:
            UsageError: no reason.
            NotFound: no such endpoint.
        """
        if not reason.strip():
            raise UsageError("say why: --reason '...' (it is recorded with the trigger)")
        production = self._endpoints.get(endpoint).policy.production
        trigger, _ = self.triggers_store.create(
            endpoint=endpoint,
            kind="manual",
            reason=reason,
            evidence={"requested_by": self._ctx.actor, "production": production},
        )
        return self.process(trigger.id, spec=spec)

    def process(self, trigger_id: str, *, spec: str = "production") -> RetrainTrigger:
        """Process a pending trigger (or reclaim one whose lease expired): spec, snapshot,
        train, register, compare, gate, canary.

        Raises:
            NotFound: no such trigger.
            Conflict: it was processed already, or another process holds a live lease.
        """
        retrainer = Retrainer(
            self._ctx,
            settings=self.config.retraining,
            leases=self.leases,
            datasets=self._datasets,
            predictions=self._predictions,
            feedback=self._feedback,
            runs=self._runs,
            models=self._models,
            endpoints=self._endpoints,
        )
        return retrainer.process(trigger_id, spec=spec)

    def process_pending(
        self, endpoint: str, *, spec: str = "production"
    ) -> builtins.list[RetrainTrigger]:
        """Process every pending trigger of ``endpoint``, and every one whose holder's lease
        expired (its process died), oldest first."""
        takeable = self.leases.takeable(endpoint)
        if not takeable:
            raise NotFound(
                f"endpoint {endpoint} has no pending retrain trigger (nor one whose lease "
                "expired); `stead retrain list` shows them"
            )
        return [self.process(t.id, spec=spec) for t in takeable]

    def release(self, trigger_id: str, *, reason: str, force: bool = False) -> RetrainTrigger:
        """Hand a trigger stuck in ``processing`` back to ``pending`` (audited).

        Raises:
            Conflict: it is not processing, or its lease is live and not ``force``.
        """
        return self.leases.release(trigger_id, reason=reason, force=force)

    # -- drills and reports -----------------------------------------------------------

    def rollback_drill(
        self,
        endpoint: str,
        *,
        url: str | None = None,
        token: str | None = None,
        sample: int = 50,
    ) -> RollbackDrill:
        """Roll back to the previous revision and forward again, checking both answer;
        records ``rollback_verified`` evidence (see :mod:`stead.serving.deploy.drill`)."""
        driller = Driller(
            self._ctx,
            models=self._models,
            runs=self._runs,
            endpoints=self._endpoints,
            predictions=self._predictions,
        )
        return driller.drill(endpoint, url=url, token=token, sample=sample)

    def report(
        self, endpoint: str, out: str | Path, *, window: str | None = None, last: int = 30
    ) -> Path:
        """Write a self-contained HTML report of the endpoint's last ``last`` windows."""
        check_endpoint(endpoint)
        state = self.state(endpoint, window=window, last=last)
        if not state.windows:
            raise NotFound(
                f"endpoint {endpoint} has no monitor results yet; run `stead monitor run "
                f"{endpoint}` first"
            )
        profile, output = None, None
        version = state.latest.model_version if state.latest else None
        if version is not None:
            profile = self._models.reference_profile(version)
            output = version_reference(
                self._ctx, self._models.get(version), self._runs
            ).output_profile
        html = render_report(
            state,
            alerts=self.alert_service.recent(endpoint, limit=50),
            profile=profile,
            output_profile=output,
            triggers=self.triggers_store.list(endpoint),
        )
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        return path
