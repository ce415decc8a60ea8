"""Processing a retrain trigger: new data, the same spec, a new candidate, the same gate.

For a trigger on an endpoint whose production version is ``credit@3``:

1. **spec** — the spec recorded with ``credit@3``'s run, or with ``spec="current"``
   (``--current-spec``) ``stead.toml``'s ``[training]``; the choice and how the two
   differ are recorded, with a warning in the trigger's evidence when they differ (see
   ``spec.py``);
2. **snapshot** — the configured source (``[retraining] source``; default the data
   ``credit@3`` was trained on) plus, with ``include_feedback``, *every* labelled
   production prediction (see ``production_data.py``); a new version of the same dataset
   name. The step and the final message say how many labelled rows there were, how many
   were trained on, held out for the backtest or skipped, and why, naming the setting;
3. **backtest** — when the newest ``evaluation_window`` holds at least
   ``min_evaluation_rows`` labelled rows: the candidate's procedure (the chosen spec,
   refitted on all its rows) trained on the source plus the labelled rows *older* than
   the window, then it and production scored on the window rows neither was fitted on
   (rows found, by content, in either one's training data are dropped);
4. **train** — the registered candidate: the chosen spec on the snapshot of step 2,
   refitted on all rows after its own split's evaluation (``[training.split] refit``) so
   that it learns from the newest data the retrain is for. Its recorded metrics are
   those of its split fit; the backtest is what judges it. Without a backtest the spec
   is trained as recorded (no refit), so the checklist can judge it on its own
   evaluation rows. The workspace's code runs as it is now; when it differs from the
   production run's stored sources, a warning naming the changed files joins the
   trigger's evidence (``code_differs``);
5. **register** — as a candidate of the same model, its description naming the trigger;
6. **reproduce** — re-run and prove it bit-identical, the refitted model included;
7. **compare** — the backtest's comparison recorded as the candidate's ``backtest``
   evidence (``ws.models.record_backtest``), which the checklist's
   ``champion_challenger`` item judges on;
8. **checklist** — the readiness gate, evaluated and kept;
9. **canary** — with ``auto_canary``, and only when the checklist is ready: staged and
   deployed as a canary at ``canary_share`` percent;
10. **promote** — with ``auto_promote``, and only if the canary runs and the backtest
    says the candidate is not worse: through ``ws.models.promote`` (the gate) and
    ``promote_canary``.

Why backtest *then* refit: holding the newest rows out of the registered model (as a
plain split does) keeps exactly the drifted data the retrain is for out of it, while
comparing on the candidate's own evaluation rows lets rows (or customers) that the
candidate trained on flatter it. The backtest measures the procedure on rows neither
model saw; the refit then applies the same procedure to all rows. Its limit: the
registered model is not the backtested one, it has seen the window too, so the
backtest estimates it rather than measures it.

Each step is audited under the trigger's id (``retrain.<step>``, subject
``trigger:<id>``); the services it calls audit their own changes with a reason naming it.
Processing holds a lease on the trigger, renewed at every step and while a step runs
(see :mod:`stead.monitoring.retraining.leases`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stead.core.errors import SpecError, SteadError
from stead.data.reader import read_table
from stead.monitoring.records import RetrainTrigger
from stead.monitoring.retraining.leases import Lease, LeaseLost, TriggerLeases
from stead.monitoring.retraining.production_data import (
    ProductionRows,
    aligned,
    read_production_rows,
    with_rows,
)
from stead.monitoring.retraining.spec import (
    RetrainSpec,
    choose_spec,
    code_warning,
    with_spec_advice,
)
from stead.monitoring.settings import RetrainingSettings
from stead.registry.champion import ChampionComparison, score_model
from stead.registry.rows import seen_by, training_rows
from stead.registry.settings import better, checklist_settings
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService
    from stead.predictions.feedback import FeedbackService
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry
    from stead.serving.deploy.endpoints import EndpointService
    from stead.training.run import TrainingRun, TrainOutcome
    from stead.training.service import RunService
    from stead.training.spec import RunSpec


class Retrainer:
    """Turns a trigger into an evaluated, gated candidate (and a canary, if allowed)."""

    def __init__(
        self,
        context: Context,
        *,
        settings: RetrainingSettings,
        leases: TriggerLeases,
        datasets: DatasetService,
        runs: RunService,
        models: ModelRegistry,
        endpoints: EndpointService,
        predictions: PredictionService,
        feedback: FeedbackService,
    ) -> None:
        self._ctx = context
        self._predictions = predictions
        self._feedback = feedback
        self._settings = settings
        self._leases = leases
        self._lease: Lease | None = None
        self._datasets = datasets
        self._runs = runs
        self._models = models
        self._endpoints = endpoints

    def process(self, trigger_id: str, *, spec: str = "production") -> RetrainTrigger:
        """Process a pending trigger once (or reclaim one whose lease expired); returns it
        with its outcome.

        Args:
            trigger_id: the trigger.
            spec: ``production`` trains the spec recorded with the production version's
                run; ``current`` trains ``stead.toml``'s ``[training]``.

        Raises:
            Conflict: the trigger is processed already, or another process holds a live
                lease on it.
            LeaseLost: this process's lease lapsed and another process took the trigger
                over; the trigger is left to it.
        """
        trigger, lease = self._leases.claim(trigger_id)
        self._lease = lease
        outcome: dict[str, Any] = {"steps": []}
        if lease.reclaimed_from is not None:
            outcome["reclaimed_from"] = lease.reclaimed_from
        try:
            with self._leases.kept(lease):
                status = self._run(trigger, outcome, spec)
        except LeaseLost:
            raise
        except SteadError as error:
            outcome["message"] = f"retraining failed: {error.message}"
            return self._leases.finish(lease, "failed", outcome, error=error.message)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            outcome["message"] = f"retraining failed: {message}"
            self._leases.finish(lease, "failed", outcome, error=message)
            raise
        return self._leases.finish(lease, status, outcome)

    def _step(
        self,
        trigger: RetrainTrigger,
        outcome: dict[str, Any],
        step: str,
        *,
        evidence: dict[str, Any] | None = None,
        **facts: Any,
    ) -> None:
        outcome["steps"].append(step)
        outcome.update(facts)
        details = {"endpoint": trigger.endpoint, **facts}
        assert self._lease is not None, "a step outside process()"
        self._leases.step(self._lease, step, details, evidence=evidence)

    def _run(self, trigger: RetrainTrigger, outcome: dict[str, Any], use: str) -> str:
        why = f"retrain trigger {trigger.id}: {trigger.reason}"
        production = self._models.get(self._endpoints.get(trigger.endpoint).policy.production)
        outcome["production"] = production.ref
        production_run = self._runs.get(production.run_id)
        chosen = choose_spec(self._runs, production_run, use=use)
        # What differs from production besides the data: the spec, then the code.
        warnings = [chosen.warning] if chosen.warning else []
        self._step(
            trigger,
            outcome,
            "spec",
            evidence={"spec": chosen.to_dict(), **({"warnings": warnings} if warnings else {})},
            spec=chosen.to_dict(),
        )
        data = read_production_rows(
            self._ctx,
            trigger.endpoint,
            production,
            production_run.spec,
            self._settings,
            predictions=self._predictions,
            feedback=self._feedback,
        )
        backtest = len(data.window) >= self._settings.min_evaluation_rows
        used = data.include_feedback
        trained_rows = (
            pd.concat([data.older, data.window], ignore_index=True) if used else pd.DataFrame()
        )
        base, sources = self._source(production)
        name = production.snapshot_ref.partition("@")[0]
        snapshot = self._datasets.snapshot(
            with_rows(base, trained_rows),
            name=name,
            source=f"retrain trigger {trigger.id} ({'; '.join(_sources(sources, trained_rows))})",
        ).snapshot
        data_text = data.describe(backtest=backtest, min_rows=self._settings.min_evaluation_rows)
        self._step(
            trigger,
            outcome,
            "snapshot",
            snapshot=snapshot.ref,
            rows=snapshot.rows,
            sources=_sources(sources, trained_rows),
            production_rows=len(trained_rows),
            production_data=data.to_dict(),
            data=data_text,
        )
        # With a backtest to judge it, the registered version is refitted on all rows;
        # without one it keeps its split, so the checklist can judge it on unseen rows.
        spec = _refitted(chosen.spec) if backtest else chosen.spec
        comparison: dict[str, Any] = {}
        if backtest:
            comparison = self._backtest(
                trigger, outcome, production, base, sources, data, spec, chosen
            )
        else:
            comparison = {"rows": len(data.window), "message": data_text}
        trained = self._train(snapshot.ref, spec, chosen, why)
        run = trained.run
        code = code_warning(production_run, run)
        if code:
            warnings.append(code)
        self._step(
            trigger,
            outcome,
            "train",
            evidence={"warnings": warnings} if code else None,
            run=run.id,
            created=trained.created,
            refit=spec.split.refit,
            metrics=run.metrics,
            code_differs=code is not None,
            code_warning=code,
        )
        registered = self._models.register(
            run.id,
            name=production.name,
            description=f"retrained by {why}, {chosen.description}",
            reason=why,
        )
        candidate = registered.version
        self._step(
            trigger, outcome, "register", candidate=candidate.ref, created=registered.created
        )
        if candidate.id == production.id:
            outcome["message"] = (
                f"the same data and spec give the production version {production.ref}: "
                f"nothing new to deploy ({data_text})"
            )
            return "no_change"
        if not registered.created:
            outcome["message"] = (
                f"the same data and spec give {candidate.ref} ({candidate.stage}), registered "
                "before: decide on it (`stead models checklist`, `stead deploy`) rather than "
                "retraining again"
            )
            return "no_change"
        if self._settings.reproduce:
            try:
                verification = self._runs.reproduce(run.id)
                self._step(trigger, outcome, "reproduce", verified=verification.verified)
            except SteadError as error:
                self._step(trigger, outcome, "reproduce", verified=False, problem=error.message)
        if comparison.get("advantage") is not None:
            recorded = self._models.record_backtest(
                candidate.ref,
                ChampionComparison.from_dict({**comparison, "challenger": candidate.ref}),
                evidence=f"retrain trigger {trigger.id}: {comparison['on']}",
                run_id=comparison["backtest_run"],
            )
            comparison["evidence_id"] = recorded.id
        self._step(trigger, outcome, "compare", comparison=comparison)
        checklist = self._models.checklist(candidate.ref)
        self._step(
            trigger,
            outcome,
            "checklist",
            ready=checklist.ready,
            blocking=[i.key for i in checklist.blocking],
            checklist=checklist.statuses(),
        )
        canary = self._canary(trigger, outcome, candidate, checklist.ready, why)
        self._promote(trigger, outcome, candidate, canary, comparison, why)
        outcome["message"] = _summary(candidate, production, comparison, outcome, data_text)
        return "done"

    def _train(self, snapshot: str, spec: RunSpec, chosen: RetrainSpec, why: str) -> TrainOutcome:
        try:
            return self._runs.train(
                snapshot=snapshot, spec=spec, reason=f"{why} ({chosen.description})"
            )
        except SpecError as error:  # a refusal's advice names settings the spec ignores
            raise with_spec_advice(error, chosen) from error

    # -- data -------------------------------------------------------------------------

    def _source(self, production: ModelVersion) -> tuple[pd.DataFrame, list[str]]:
        if self._settings.source:
            path = self._ctx.settings.resolve_path(self._settings.source)
            return read_table(path), [f"source {path}"]
        base = self._datasets.load(self._datasets.get_by_id(production.snapshot_id))
        return base, [f"snapshot {production.snapshot_ref}"]

    # -- the backtest -----------------------------------------------------------------

    def _backtest(
        self,
        trigger: RetrainTrigger,
        outcome: dict[str, Any],
        production: ModelVersion,
        base: pd.DataFrame,
        sources: list[str],
        data: ProductionRows,
        spec: RunSpec,
        chosen: RetrainSpec,
    ) -> dict[str, Any]:
        """Fit the candidate's procedure without the window; score it and production on
        the window rows neither was fitted on."""
        older = data.older if data.include_feedback else pd.DataFrame()
        name = production.snapshot_ref.partition("@")[0]
        snapshot = self._datasets.snapshot(
            with_rows(base, older),
            name=name,
            source=f"retrain trigger {trigger.id} backtest ({'; '.join(_sources(sources, older))})",
        ).snapshot
        run = self._train(
            snapshot.ref, spec, chosen, f"backtest of retrain trigger {trigger.id}"
        ).run
        facts = self._compare(production, run, data)
        self._step(
            trigger,
            outcome,
            "backtest",
            evidence={"backtest": {"run": run.id, "snapshot": snapshot.ref, **facts}},
            backtest_run=run.id,
            backtest_snapshot=snapshot.ref,
            comparison=facts,
        )
        return facts

    def _compare(
        self, production: ModelVersion, backtest: TrainingRun, data: ProductionRows
    ) -> dict[str, Any]:
        metric = checklist_settings(self._ctx.settings).primary_for(
            production.task, list(backtest.metrics)
        )
        target = production.output["target"]
        window = aligned(data.window, self._runs.snapshot_frame(backtest))
        columns = [*production.input_columns, target]
        seen = seen_by(
            window, training_rows(self._runs, self._runs.get(production.run_id)), columns
        )
        seen |= seen_by(window, training_rows(self._runs, backtest), columns)
        rows = window[~seen]
        on = (
            f"backtest rows: the labelled production rows newer than [retraining] "
            f"evaluation_window = {data.window_setting} that neither production nor the "
            f"backtest run {backtest.id} was fitted on"
        )
        facts: dict[str, Any] = {
            "metric": metric,
            "rows": len(rows),
            "window_rows": len(window),
            "seen_rows": int(seen.sum()),
            "backtest_run": backtest.id,
            "champion": production.ref,
            "on": on,
        }
        if len(rows) < self._settings.min_evaluation_rows:
            facts["message"] = (
                f"only {len(rows)} of the {len(window)} window rows were unseen by both "
                f"(min [retraining] min_evaluation_rows = {self._settings.min_evaluation_rows}):"
                " not compared on production data"
            )
            return facts
        classes = np.asarray(production.output.get("classes") or [])
        positive = backtest.spec.positive_class
        # Both models, each with its own feature code and inputs, on the same rows.
        contenders = {
            "challenger_value": (
                self._runs.load_model(backtest),
                self._runs.sources(backtest),
                backtest.input_columns,
                backtest.spec.task,
            ),
            "champion_value": (
                self._models.load(production.ref).pipeline,
                self._runs.sources(production.run_id),
                production.input_columns,
                production.task,
            ),
        }
        for key, (model, sources, inputs, task) in contenders.items():
            facts[key] = score_model(
                model,
                sources,
                rows,
                input_columns=inputs,
                task=task,
                target=target,
                metric=metric,
                classes=classes,
                root=self._ctx.root,
                positive=positive,
            )
        if facts["challenger_value"] is not None and facts["champion_value"] is not None:
            facts["advantage"] = better(metric, facts["challenger_value"], facts["champion_value"])
        return facts

    # -- deploying --------------------------------------------------------------------

    def _canary(
        self,
        trigger: RetrainTrigger,
        outcome: dict[str, Any],
        candidate: ModelVersion,
        ready: bool,
        why: str,
    ) -> bool:
        if not self._settings.auto_canary:
            return False
        if not ready:
            self._step(
                trigger, outcome, "canary", canary=None, skipped="the checklist is not ready"
            )
            return False
        try:
            self._models.promote(candidate.ref, to="staging", reason=why)
            deployed = self._endpoints.canary(
                trigger.endpoint, candidate.ref, share=self._settings.canary_share, reason=why
            )
        except SteadError as error:
            self._step(trigger, outcome, "canary", canary=None, problem=error.message)
            return False
        self._step(
            trigger,
            outcome,
            "canary",
            canary=candidate.ref,
            share=self._settings.canary_share,
            revision=deployed.deployment.revision,
        )
        return True

    def _promote(
        self,
        trigger: RetrainTrigger,
        outcome: dict[str, Any],
        candidate: ModelVersion,
        canary: bool,
        comparison: dict[str, Any],
        why: str,
    ) -> None:
        if not self._settings.auto_promote:
            return
        advantage = comparison.get("advantage")
        tolerance = checklist_settings(self._ctx.settings).champion_tolerance
        if not canary or advantage is None or advantage < -tolerance:
            reason = (
                "no canary is running"
                if not canary
                else "no comparison on recent production data"
                if advantage is None
                else f"worse than production on recent data ({advantage:+.4f})"
            )
            self._step(trigger, outcome, "promote", promoted=None, skipped=reason)
            return
        try:
            self._models.promote(candidate.ref, to="production", reason=why)
            deployed = self._endpoints.promote_canary(trigger.endpoint, reason=why)
        except SteadError as error:
            self._step(trigger, outcome, "promote", promoted=None, problem=error.message)
            return
        self._step(
            trigger,
            outcome,
            "promote",
            promoted=candidate.ref,
            revision=deployed.deployment.revision,
        )


def _refitted(spec: RunSpec) -> RunSpec:
    return replace(spec, split=replace(spec.split, refit=True))


def _sources(sources: list[str], rows: pd.DataFrame) -> list[str]:
    return [*sources, f"{len(rows)} labelled production predictions"] if len(rows) else sources


def _summary(
    candidate: ModelVersion,
    production: ModelVersion,
    comparison: dict[str, Any],
    outcome: dict[str, Any],
    data: str,
) -> str:
    text = f"registered {candidate.ref} as a candidate to replace {production.ref}"
    if comparison.get("advantage") is not None:
        text += (
            f"; backtest on {comparison['rows']:,} recent labelled rows neither was fitted on: "
            f"{comparison['metric']} {comparison['challenger_value']:.4f} (candidate's "
            f"procedure, run {comparison['backtest_run']}) vs production "
            f"{comparison['champion_value']:.4f}"
        )
    elif comparison.get("message") and comparison["message"] != data:
        text += f"; {comparison['message']}"
    text += f"; production data: {data}"
    if outcome.get("canary"):
        text += f"; canary at {outcome.get('share'):g}%"
    if outcome.get("promoted"):
        text += f"; promoted to production ({outcome['promoted']})"
    elif outcome.get("skipped") and "promote" in outcome["steps"]:
        text += f"; not promoted: {outcome['skipped']}"
    return text
