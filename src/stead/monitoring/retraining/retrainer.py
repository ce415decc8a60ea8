"""Processing a retrain trigger: new data, the same spec, a new candidate, the same gate.

For a trigger on an endpoint whose production version is ``credit@3``:

1. **snapshot** — the configured source (``[retraining] source``; default the data
   ``credit@3`` was trained on), plus, with ``include_feedback``, the labelled production
   predictions (inputs from the log, labels from feedback) *older* than the evaluation
   window; a new version of the same dataset name;
2. **spec** — the spec recorded with ``credit@3``'s run, or with ``spec="current"``
   (``--current-spec``) ``stead.toml``'s ``[training]``; the choice and how the two
   differ are recorded, with a warning in the trigger's evidence when they differ (see
   ``spec.py``);
   **train** — ``ws.runs.train(snapshot=..., spec=...)`` on that snapshot with that spec:
   a new, reproducible run (same inputs → the same run). It runs the workspace's code as
   it is now, not the production run's stored sources; when they differ, a warning naming
   the changed files joins the trigger's evidence (``code_differs`` in the train step);
3. **register** — as a candidate of the same model, its description naming the trigger;
4. **reproduce** — re-run and prove it bit-identical (the checklist's first item);
5. **compare** — candidate and production on the newest labelled production data (the
   evaluation window, never trained on), with the checklist's primary metric;
6. **checklist** — the readiness gate, evaluated and kept;
7. **canary** — with ``auto_canary``, and only when the checklist is ready: staged and
   deployed as a canary at ``canary_share`` percent;
8. **promote** — with ``auto_promote``, and only if the canary runs and the candidate is
   not worse on recent data: through ``ws.models.promote`` (the gate) and
   ``promote_canary``.

Each step is audited under the trigger's id (``retrain.<step>``, subject
``trigger:<id>``); the services it calls audit their own changes with a reason naming it.
Processing holds a lease on the trigger, renewed at every step and while a step runs
(see :mod:`stead.monitoring.retraining.leases`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from stead.core.errors import SpecError, SteadError
from stead.data.reader import read_table
from stead.monitoring.records import RetrainTrigger
from stead.monitoring.retraining.leases import Lease, LeaseLost, TriggerLeases
from stead.monitoring.retraining.spec import choose_spec, code_warning, with_spec_advice
from stead.monitoring.settings import RetrainingSettings
from stead.monitoring.signals.performance import ANSWERED
from stead.predictions.layout import INPUTS
from stead.predictions.tables import FeedbackRow
from stead.predictions.window_reader import PRIMARY, LogWindows
from stead.registry.champion import score_version
from stead.registry.settings import better, checklist_settings
from stead.registry.version import ModelVersion

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService
    from stead.predictions.feedback import FeedbackService
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry
    from stead.serving.deploy.endpoints import EndpointService
    from stead.training.service import RunService
    from stead.training.spec import RunSpec

MICROSECOND = timedelta(microseconds=1)


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
        train_rows, held_out = self._production_data(trigger.endpoint, production)
        frame, sources = self._training_frame(production, train_rows)
        name = production.snapshot_ref.partition("@")[0]
        snapshot = self._datasets.snapshot(
            frame, name=name, source=f"retrain trigger {trigger.id} ({'; '.join(sources)})"
        ).snapshot
        self._step(
            trigger,
            outcome,
            "snapshot",
            snapshot=snapshot.ref,
            rows=snapshot.rows,
            sources=sources,
            production_rows=len(train_rows),
        )
        try:
            trained = self._runs.train(
                snapshot=snapshot.ref, spec=chosen.spec, reason=f"{why} ({chosen.description})"
            )
        except SpecError as error:  # a refusal's advice names settings the spec ignores
            raise with_spec_advice(error, chosen) from error
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
                "nothing new to deploy"
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
        comparison = self._compare(candidate, production, held_out)
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
        outcome["message"] = _summary(candidate, production, comparison, outcome)
        return "done"

    # -- data -------------------------------------------------------------------------

    def _production_data(
        self, endpoint: str, production: ModelVersion
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Labelled production predictions, split into (older: train, newest: evaluate)."""
        empty = pd.DataFrame()
        with self._ctx.store.read() as session:
            low, high = session.execute(
                select(
                    func.min(FeedbackRow.predicted_at), func.max(FeedbackRow.predicted_at)
                ).where(FeedbackRow.endpoint == endpoint)
            ).one()
        if low is None:
            return empty, empty
        until = high + MICROSECOND
        labels = self._feedback.read(endpoint, low, until)
        labels = labels[labels["role"].isin(ANSWERED) & labels["error"].isna()]
        labels = labels.drop_duplicates("request_id", keep="last")[["request_id", "label"]]
        log = LogWindows(self._predictions.directory, endpoint).read(low, until)
        frame = log.to_pandas()
        frame = frame[frame["role"].isin(PRIMARY)].drop_duplicates("request_id", keep="last")
        joined = frame.merge(labels, on="request_id", how="inner")
        rows = _as_training_rows(joined, production, self._runs.get(production.run_id).spec)
        if rows.empty:
            return empty, empty
        cut = rows["__time"].max() - self._settings.evaluation_period
        held_out = rows[rows["__time"] > cut].drop(columns="__time")
        train = rows[rows["__time"] <= cut].drop(columns="__time")
        if not self._settings.include_feedback:
            train = train.iloc[0:0]
        return train.reset_index(drop=True), held_out.reset_index(drop=True)

    def _training_frame(
        self, production: ModelVersion, extra: pd.DataFrame
    ) -> tuple[pd.DataFrame, list[str]]:
        if self._settings.source:
            path = self._ctx.settings.resolve_path(self._settings.source)
            base = read_table(path)
            sources = [f"source {path}"]
        else:
            base = self._datasets.load(self._datasets.get_by_id(production.snapshot_id))
            sources = [f"snapshot {production.snapshot_ref}"]
        if extra.empty:
            return base, sources
        columns = [c for c in extra.columns if c in base.columns]
        base = base[columns]
        extra = extra[columns]
        for column in columns:
            extra[column] = _cast_like(extra[column], base[column])
        sources.append(f"{len(extra)} labelled production predictions")
        return pd.concat([base, extra], ignore_index=True), sources

    # -- comparing, deploying ---------------------------------------------------------

    def _compare(
        self, candidate: ModelVersion, production: ModelVersion, rows: pd.DataFrame
    ) -> dict[str, Any]:
        metric = checklist_settings(self._ctx.settings).primary_for(
            candidate.task, list(self._runs.get(candidate.run_id).metrics)
        )
        target = candidate.output["target"]
        facts: dict[str, Any] = {"metric": metric, "rows": len(rows)}
        if len(rows) < self._settings.min_evaluation_rows:
            facts["message"] = (
                f"only {len(rows)} labelled production rows in the last "
                f"{self._settings.evaluation_window} (min {self._settings.min_evaluation_rows}): "
                "not compared on production data"
            )
            return facts
        for role, version in (("candidate", candidate), ("production", production)):
            facts[role] = score_version(
                version,
                self._models.load(version.ref).pipeline,
                self._runs.sources(version.run_id),
                rows,
                target=target,
                metric=metric,
                classes=np.asarray(version.output.get("classes") or []),
                root=self._ctx.root,
            )
        if facts.get("candidate") is not None and facts.get("production") is not None:
            facts["advantage"] = better(metric, facts["candidate"], facts["production"])
        return facts

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


def _as_training_rows(
    joined: pd.DataFrame, production: ModelVersion, spec: RunSpec
) -> pd.DataFrame:
    """Logged inputs and labels as rows of the training data's columns."""
    if joined.empty:
        return pd.DataFrame()
    rows = pd.DataFrame(
        {c: joined[INPUTS + c].to_numpy() for c in production.input_columns if INPUTS + c in joined}
    )
    rows[spec.target] = joined["label"].to_numpy()
    moment = pd.to_datetime(joined["timestamp"], utc=True)
    if spec.time_column and spec.time_column not in rows:
        rows[spec.time_column] = moment.to_numpy()
    if spec.id_column and spec.id_column not in rows:
        # The entity the request was about when the server knew it, else the request.
        keys = joined["entity_key"].where(joined["entity_key"].notna(), joined["request_id"])
        rows[spec.id_column] = keys.astype(str).to_numpy()
    rows["__time"] = moment.to_numpy()
    # A canonical order. The log orders equal timestamps by arrival, which varies from
    # run to run (and a pinned clock makes every timestamp equal); the same labelled rows
    # must give the same snapshot, split and candidate. The id goes last: it may be a
    # request id or a keyed hash, neither of which should decide where a row lands.
    last = [spec.id_column] if spec.id_column and spec.id_column in rows else []
    order = ["__time", *[c for c in rows.columns if c not in ("__time", *last)], *last]
    return rows.sort_values(order, kind="stable", ignore_index=True)


def _cast_like(values: pd.Series, like: pd.Series) -> pd.Series:
    """Production values in the training column's type, when they fit it."""
    dtype = like.dtype
    try:
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.to_datetime(values, utc=True).astype(dtype)
        if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
            numbers = pd.to_numeric(values, errors="coerce")
            if pd.api.types.is_integer_dtype(dtype) and numbers.isna().any():
                return numbers
            return numbers.astype(dtype)
        if pd.api.types.is_bool_dtype(dtype):
            return values.map(lambda v: str(v).lower() in ("true", "1")).astype(dtype)
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values


def _summary(
    candidate: ModelVersion,
    production: ModelVersion,
    comparison: dict[str, Any],
    outcome: dict[str, Any],
) -> str:
    text = f"registered {candidate.ref} as a candidate to replace {production.ref}"
    if comparison.get("advantage") is not None:
        text += (
            f"; on {comparison['rows']} recent labelled rows {comparison['metric']} "
            f"{comparison['candidate']:.4f} vs {comparison['production']:.4f}"
        )
    elif comparison.get("message"):
        text += f"; {comparison['message']}"
    if outcome.get("canary"):
        text += f"; canary at {outcome.get('share'):g}%"
    if outcome.get("promoted"):
        text += f"; promoted to production ({outcome['promoted']})"
    return text
