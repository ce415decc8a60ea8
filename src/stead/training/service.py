"""``ws.runs``: train, look up, compare, load and reproduce training runs."""

from __future__ import annotations

import builtins
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stead.core.errors import Conflict, NotFound, SpecError, UsageError
from stead.core.provenance import git_code_version
from stead.features.definition import FeatureSettings
from stead.features.imports import ImportPath
from stead.features.sources import SourceBundle, collect_sources, importing, module_path
from stead.training.liveness import ProcessStamp, is_alive
from stead.training.persistence import dump_model, load_model
from stead.training.project import Project, resolve_project
from stead.training.records import record_failure, record_start, record_success
from stead.training.run import (
    RunCodeVersion,
    RunVerification,
    TrainingFailed,
    TrainingRun,
    TrainOutcome,
)
from stead.training.settings import stage_settings
from stead.training.spec import RunSpec, run_key
from stead.training.tables import RunVerificationRow, TrainingRunRow

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from stead.core.context import Context
    from stead.data.service import DatasetService
    from stead.data.snapshot import DatasetSnapshot
    from stead.features.leakage import LeakageReport
    from stead.features.service import FeatureService
    from stead.training.compare import RunComparison
    from stead.training.execute import Fitted, StepCallback
    from stead.training.split import Split

# Training, evaluating and reproducing import the training pipeline (scikit-learn, skops,
# SciPy) inside the methods that run it, so that listing runs or endpoints does not.

# The steps ``train`` reports through ``on_step``, in order (for progress bars).
TRAIN_STEPS = ("checking leakage", "fitting model", "fitting baseline", "evaluating", "saving")


class RunService:
    """Training runs of a workspace."""

    def __init__(
        self, context: Context, *, datasets: DatasetService, features: FeatureService
    ) -> None:
        self._ctx = context
        self._datasets = datasets
        self._features = features

    # -- training -------------------------------------------------------------------

    def spec(
        self, *, snapshot: str | None = None, seed: int | None = None
    ) -> tuple[RunSpec, str, Project]:
        """The run spec ``stead.toml`` describes now (with optional overrides).

        Returns:
            The spec, the snapshot reference to train on, and the project.

        Raises:
            SpecError: ``stead.toml`` has no ``[training]`` table.
        """
        stage = stage_settings(self._ctx.settings)
        if stage.training is None or stage.project is None:
            raise SpecError(
                "stead.toml has no [training] table; add one with the snapshot and the "
                "estimator to train (see docs/training.md)"
            )
        training = stage.training
        if seed is not None:
            _check_seed(seed)
            training = replace(training, seed=seed)
        features = self._features.settings()
        name = self._features.name_for(features)
        spec = RunSpec.resolve(
            project=stage.project, features=features, feature_name=name, training=training
        )
        assert training.snapshot is not None
        return spec, snapshot or training.snapshot, stage.project

    def train(
        self,
        *,
        snapshot: str | None = None,
        seed: int | None = None,
        spec: RunSpec | None = None,
        force: bool = False,
        reason: str | None = None,
        on_step: StepCallback | None = None,
    ) -> TrainOutcome:
        """Train the workspace's ``[training]`` spec (or ``spec``), or return the run that
        already did.

        Runs the leakage checks, fits the feature pipeline with the estimator and the
        baseline, evaluates both, saves them as skops artifacts and records the run with
        its code, data, features, environment and seed.

        With ``spec`` (a run's recorded spec, ``ws.runs.get(id).spec``), that spec is
        trained as recorded: its estimator, params, seed, split, metrics, feature function
        and params, column roles and leakage settings; ``stead.toml``'s ``[training]`` and
        ``[features]`` are not read. The code is the workspace's today (as for any new
        run; ``reproduce`` is the one that re-runs a run's stored code), and the run is
        recorded for the workspace's ``[project]``. Retraining trains production's spec
        this way.

        Args:
            snapshot: ``NAME`` or ``NAME@V`` instead of ``[training] snapshot``; required
                with ``spec``.
            seed: instead of ``[training] seed`` (or the spec's seed).
            spec: train this recorded spec instead of the one ``stead.toml`` describes.
            force: train anew even when a successful run has the same inputs.
            reason: recorded in the audit trail.
            on_step: told each step's name as it starts (see ``TRAIN_STEPS``).

        Raises:
            UsageError: ``spec`` without ``snapshot``.
            SpecError: bad spec or data (missing column, one-class target, estimator or
                feature function that does not import/raises/returns no transformer);
                nothing is stored.
            LeakageDetected: a leakage check set to ``error`` found leakage; nothing is
                stored.
            TrainingFailed: fitting or evaluating raised; the run is recorded as failed.
        """
        from stead.training.environment import capture_environment
        from stead.training.execute import check_data, fit_and_evaluate, prepare
        from stead.training.split import split_rows

        started = time.perf_counter()
        step = on_step or (lambda _s: None)
        if spec is None:
            spec, snapshot_ref, project_name = self._spec_from_settings(snapshot, seed)
        else:
            spec, snapshot_ref, project_name = self._given_spec(spec, snapshot, seed)
        snap = self._datasets.get(snapshot_ref)
        bundle = self._collect_sources(spec)
        feature_def = self._features.definition(_feature_settings(spec), bundle)
        key = run_key(
            snapshot_id=snap.id,
            feature_set_version=feature_def.version,
            spec=spec,
            sources_hash=bundle.digest,
        )
        existing = self._find_by_key(key)
        if existing is not None and not force:
            return TrainOutcome(run=existing, created=False)
        self._refuse_concurrent(key, force=force)

        timings: dict[str, float] = {}
        mark = time.perf_counter()
        frame = self._datasets.load(snap)
        timings["load_data"] = time.perf_counter() - mark
        source = f"snapshot {snap.ref}"
        check_data(frame, spec, source=source)
        with importing(bundle, root=self._ctx.root):
            mark = time.perf_counter()
            prepared = prepare(spec, frame, source=source)
            split = split_rows(
                frame,
                settings=spec.split,
                task=spec.task,
                target=spec.target,
                time_column=spec.time_column,
                seed=spec.seed,
            )
            timings["prepare"] = time.perf_counter() - mark
            step("checking leakage")
            mark = time.perf_counter()
            report = self._check_leakage(spec, frame, split, prepared.input_columns, snap)
            report.raise_for_errors()
            timings["leakage"] = time.perf_counter() - mark

            # Inputs are valid: from here on the run is recorded, whatever happens.
            feature_set, _ = self._features.register(feature_def)
            sources_artifact = self._ctx.artifacts.put_bytes(bundle.to_bytes())
            eval_rows_artifact = self._ctx.artifacts.put_bytes(split.eval_rows_bytes())
            git = git_code_version(self._ctx.root)
            code = RunCodeVersion(
                commit=git.commit,
                dirty=git.dirty,
                repo=git.repo,
                sources_hash=bundle.digest,
                sources_artifact=sources_artifact,
                files=bundle.file_hashes(),
            )
            run_id = record_start(
                self._ctx,
                key=key,
                project=project_name,
                spec=spec,
                snap=snap,
                feature_set_id=feature_set.id,
                feature_set_ref=feature_set.ref,
                input_columns=prepared.input_columns,
                code=code,
                environment=capture_environment(),
                split=split.to_dict(),
                leakage=report,
                eval_rows_artifact=eval_rows_artifact,
                forced=force,
                reason=reason,
            )
            try:
                fitted = fit_and_evaluate(prepared, frame, split, spec, on_step=step)
                report = self._check_model(spec, frame, split, fitted, report)
                step("saving")
                mark = time.perf_counter()
                modules = list(bundle.modules)
                model_bytes, trusted = dump_model(
                    fitted.pipeline, project_modules=modules, trusted_types=spec.trusted_types
                )
                baseline_bytes, baseline_trusted = dump_model(
                    fitted.baseline, project_modules=modules, trusted_types=spec.trusted_types
                )
                put = self._ctx.artifacts.put_bytes
                artifacts = {
                    "model": put(model_bytes),
                    "baseline": put(baseline_bytes),
                    "predictions": put(fitted.predictions.to_bytes()),
                }
                if fitted.refit_predictions is not None:
                    artifacts["refit_predictions"] = put(fitted.refit_predictions.to_bytes())
            except BaseException as exc:
                timings["total"] = time.perf_counter() - started
                record_failure(self._ctx, run_id, exc, timings)
                if isinstance(exc, Exception):
                    raise TrainingFailed(
                        f"run {run_id} failed: {type(exc).__name__}: {exc}; the run is "
                        f"recorded as failed (`stead runs show {run_id}`)",
                        details={"run_id": run_id},
                    ) from exc
                raise
        timings.update(fitted.timings)
        timings["save"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        run = record_success(
            self._ctx,
            run_id,
            fitted_metrics=fitted.metrics,
            baseline_metrics=fitted.baseline_metrics,
            artifacts=artifacts,
            trusted=sorted(set(trusted) | set(baseline_trusted)),
            classes=fitted.classes,
            output_columns=fitted.output_columns,
            pinned=fitted.pinned,
            timings=timings,
            leakage=report,
        )
        return TrainOutcome(
            run=run,
            created=True,
            forced=force,
            replaced=existing.id if existing is not None else None,
            leakage=report,
        )

    def _spec_from_settings(
        self, snapshot: str | None, seed: int | None
    ) -> tuple[RunSpec, str, str]:
        spec, snapshot_ref, project = self.spec(snapshot=snapshot, seed=seed)
        return spec, snapshot_ref, project.name

    def _given_spec(
        self, spec: RunSpec, snapshot: str | None, seed: int | None
    ) -> tuple[RunSpec, str, str]:
        if snapshot is None:
            raise UsageError("a recorded spec names no snapshot: give the snapshot to train it on")
        if seed is not None:
            _check_seed(seed)
            spec = spec.with_seed(seed)
        project = resolve_project(self._ctx.settings)
        if project is None:
            raise SpecError(
                "stead.toml has no [project] table; a run is recorded for the workspace's "
                "project (see docs/training.md)"
            )
        return spec, snapshot, project.name

    def _collect_sources(self, spec: RunSpec) -> SourceBundle:
        entry = [ImportPath.parse(spec.feature_definition, where="[features] definition").module]
        for path in (spec.estimator, spec.baseline_estimator):
            module = ImportPath.parse(path, where="estimator").module
            if module_path(self._ctx.root, module) is not None:
                entry.append(module)
        return collect_sources(self._ctx.root, entry)

    def _check_leakage(
        self,
        spec: RunSpec,
        frame: pd.DataFrame,
        split: Split,
        features: list[str],
        snap: DatasetSnapshot,
    ) -> LeakageReport:
        from stead.features.leakage import LeakageInputs, check_leakage

        # PII/post-prediction roles: those in stead.toml now, and those the snapshot's
        # schema recorded when it was taken (a role is never silently dropped).
        pii = sorted(set(spec.pii) | set(snap.schema.with_role("pii")))
        post = sorted(set(spec.post_prediction) | set(snap.schema.with_role("post_prediction")))
        inputs = LeakageInputs(
            frame=frame,
            train=split.train,
            eval=split.eval,
            task=spec.task,
            target=spec.target,
            features=features,
            id_column=spec.id_column,
            time_column=spec.time_column,
            time_split=spec.split.method == "time",
            pii=pii,
            post_prediction=post,
            seed=spec.seed,
        )
        return check_leakage(inputs, spec.leakage)

    def _check_model(
        self,
        spec: RunSpec,
        frame: pd.DataFrame,
        split: Split,
        fitted: Fitted,
        report: LeakageReport,
    ) -> LeakageReport:
        """The data checks' report with the trained model's "too good to be true" check."""
        from stead.features.leakage import too_good_to_be_true

        found = too_good_to_be_true(
            task=spec.task,
            y_true=frame[spec.target].to_numpy()[split.eval],
            model=(fitted.predictions.labels, fitted.predictions.scores),
            baseline=(fitted.baseline_predictions.labels, fitted.baseline_predictions.scores),
            classes=list(fitted.classes or []),
            positive=spec.positive_class,
            settings=spec.leakage,
        )
        return report.with_check("too_good", spec.leakage.too_good, found)

    def _refuse_concurrent(self, key: str, *, force: bool) -> None:
        if force:
            return
        with self._ctx.store.read() as session:
            rows = session.scalars(
                select(TrainingRunRow).where(
                    TrainingRunRow.key == key, TrainingRunRow.status == "running"
                )
            ).all()
            for row in rows:
                if is_alive(ProcessStamp(row.host, row.pid, row.process_start)):
                    raise Conflict(
                        f"run {row.id} is training the same inputs right now (pid {row.pid} "
                        f"on {row.host}); wait for it, or pass --force to train anyway"
                    )

    # -- reading --------------------------------------------------------------------

    def _find_by_key(self, key: str) -> TrainingRun | None:
        with self._ctx.store.read() as session:
            row = session.scalars(
                select(TrainingRunRow)
                .where(TrainingRunRow.key == key, TrainingRunRow.status == "succeeded")
                .order_by(TrainingRunRow.started_at)
                .limit(1)
            ).first()
            return row.to_entity() if row else None

    def get(self, run_id: str) -> TrainingRun:
        """A run by id (or by a unique prefix of at least 6 characters).

        Raises:
            NotFound: no run, or the prefix is ambiguous.
        """
        with self._ctx.store.read() as session:
            row = session.get(TrainingRunRow, run_id)
            if row is not None:
                return row.to_entity()
            if len(run_id) >= 6:
                rows = session.scalars(
                    select(TrainingRunRow).where(TrainingRunRow.id.startswith(run_id)).limit(2)
                ).all()
                if len(rows) == 1:
                    return rows[0].to_entity()
                if len(rows) > 1:
                    raise NotFound(f"run id prefix {run_id!r} is ambiguous; give more of it")
        raise NotFound(f"no training run {run_id!r}; `stead runs list` shows the runs")

    def list(
        self, *, status: str | None = None, snapshot: str | None = None, limit: int | None = None
    ) -> builtins.list[TrainingRun]:
        """Runs, newest first; ``status`` filters on the shown status (``interrupted`` too)."""
        with self._ctx.store.read() as session:
            query = select(TrainingRunRow).order_by(TrainingRunRow.started_at.desc())
            if snapshot is not None:
                query = query.where(TrainingRunRow.snapshot_ref.startswith(snapshot))
            runs = [row.to_entity() for row in session.scalars(query)]
        if status is not None:
            runs = [r for r in runs if r.status == status]
        return runs[:limit] if limit else runs

    def compare(self, a: str, b: str) -> RunComparison:
        """Differences between two runs: metrics, params, data, features, code, environment."""
        from stead.training.compare import compare_runs

        return compare_runs(self.get(a), self.get(b))

    def sources(self, run: TrainingRun | str) -> SourceBundle:
        """The project sources a run executed (verified against the recorded hash)."""
        run = self.get(run) if isinstance(run, str) else run
        data = self._ctx.artifacts.get_bytes(run.sources_artifact, label=f"sources of run {run.id}")
        bundle = SourceBundle.from_bytes(data, label=f"sources of run {run.id}")
        return bundle

    def load_model(self, run: TrainingRun | str, *, which: str = "model") -> Any:
        """The fitted pipeline (``which="model"``) or the baseline (``"baseline"``).

        Loads with skops, trusting only the types the run recorded; project-local types
        are imported from the run's stored sources.

        Raises:
            Conflict: the run did not succeed (it has no model).
            IntegrityError: the artifact was altered or holds unrecorded types.
        """
        run = self.get(run) if isinstance(run, str) else run
        digest = {"model": run.model_artifact, "baseline": run.baseline_artifact}.get(which, "?")
        if digest == "?":
            raise SpecError(f"which = {which!r}; expected 'model' or 'baseline'")
        if digest is None:
            raise Conflict(f"run {run.id} is {run.status}; it has no {which} artifact")
        label = f"{which} of run {run.id}"
        data = self._ctx.artifacts.get_bytes(digest, label=label)
        with importing(self.sources(run), root=self._ctx.root):
            return load_model(data, trusted_types=run.trusted_types, label=label)

    def eval_predictions(self, run: TrainingRun | str) -> np.ndarray:
        """The evaluation predictions recorded at training (verified)."""
        from stead.training.evaluation import predictions_from_bytes

        run = self.get(run) if isinstance(run, str) else run
        if run.predictions_artifact is None:
            raise Conflict(f"run {run.id} is {run.status}; it has no evaluation predictions")
        label = f"evaluation predictions of run {run.id}"
        return predictions_from_bytes(
            self._ctx.artifacts.get_bytes(run.predictions_artifact, label=label), label=label
        )

    def eval_frame(self, run: TrainingRun | str) -> pd.DataFrame:
        """The run's evaluation rows of its snapshot (all columns, snapshot order)."""
        run = self.get(run) if isinstance(run, str) else run
        return self.snapshot_frame(run).iloc[self.eval_row_positions(run)]

    def eval_row_positions(self, run: TrainingRun | str) -> np.ndarray:
        """Positions of the run's evaluation rows in its snapshot (verified artifact)."""
        from stead.training.split import eval_rows_from_bytes

        run = self.get(run) if isinstance(run, str) else run
        if run.eval_rows_artifact is None:
            raise Conflict(f"run {run.id} has no recorded evaluation rows")
        return eval_rows_from_bytes(
            self._ctx.artifacts.get_bytes(run.eval_rows_artifact, label=f"eval rows of {run.id}")
        )

    def snapshot_frame(self, run: TrainingRun | str) -> pd.DataFrame:
        """All rows of the snapshot the run trained and evaluated on."""
        run = self.get(run) if isinstance(run, str) else run
        return self._datasets.load(self._datasets.get_by_id(run.snapshot_id))

    # -- reproduction ---------------------------------------------------------------

    def reproduce(
        self, run: TrainingRun | str, *, on_step: StepCallback | None = None
    ) -> RunVerification:
        """Re-execute a run from its recorded inputs and compare bit for bit.

        Records the verification (success or mismatch) in the audit trail.

        Raises:
            ReproductionFailed: predictions or metrics differ; lists environment and
                source differences and the size of the prediction difference.
        """
        from stead.training.reproduce import reproduce_run

        run = self.get(run) if isinstance(run, str) else run
        return reproduce_run(self._ctx, run, datasets=self._datasets, on_step=on_step)

    def verifications(self, run_id: str | None = None) -> builtins.list[RunVerification]:
        """Recorded reproduction attempts (of one run, or all), newest first."""
        query = select(RunVerificationRow).order_by(RunVerificationRow.checked_at.desc())
        if run_id is not None:
            query = query.where(RunVerificationRow.run_id == self.get(run_id).id)
        with self._ctx.store.read() as session:
            return [row.to_entity() for row in session.scalars(query)]


def _check_seed(seed: int) -> None:
    if not 0 <= seed < 2**32:
        raise SpecError(f"seed {seed} is not allowed; expected 0 to 2**32 - 1")


def _feature_settings(spec: RunSpec) -> FeatureSettings:
    """The ``[features]`` a spec was resolved from (its feature set's name included)."""
    return FeatureSettings(
        definition=spec.feature_definition,
        name=spec.feature_name,
        params=dict(spec.feature_params),
    )
