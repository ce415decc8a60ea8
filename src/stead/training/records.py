"""The state transitions of a training run, each one audited change.

A run is recorded as *running* before anything is fitted (so that a killed process leaves
a trace), then as *succeeded* with its results, or *failed*/*interrupted* with the error.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from stead.core.clock import utcnow
from stead.core.ids import new_id
from stead.data.snapshot import DatasetSnapshot
from stead.training.liveness import current_process
from stead.training.run import RunCodeVersion, TrainingRun
from stead.training.spec import RunSpec
from stead.training.tables import TrainingRunRow

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.features.leakage import LeakageReport


def record_start(
    ctx: Context,
    *,
    key: str,
    project: str,
    spec: RunSpec,
    snap: DatasetSnapshot,
    feature_set_id: str,
    feature_set_ref: str,
    input_columns: list[str],
    code: RunCodeVersion,
    environment: dict[str, Any],
    split: dict[str, Any],
    leakage: LeakageReport,
    eval_rows_artifact: str,
    forced: bool,
    reason: str | None,
) -> str:
    process = current_process()
    run_id = new_id("run")
    with ctx.store.change("run.start", f"run:{run_id}", reason=reason) as change:
        change.session.add(
            TrainingRunRow(
                id=run_id,
                status="running",
                key=key,
                project=project,
                spec=spec.to_dict(),
                seed=spec.seed,
                snapshot_id=snap.id,
                snapshot_ref=snap.ref,
                feature_set_id=feature_set_id,
                feature_set_ref=feature_set_ref,
                input_columns=input_columns,
                output_columns=None,
                classes=None,
                code_version=code.to_dict(),
                environment=environment,
                split=split,
                leakage=[f.to_dict() for f in leakage.findings],
                metrics={},
                baseline_metrics={},
                model_artifact=None,
                baseline_artifact=None,
                predictions_artifact=None,
                eval_rows_artifact=eval_rows_artifact,
                trusted_types=[],
                seeded_params=[],
                timings={},
                error=None,
                forced=forced,
                host=process.host,
                pid=process.pid,
                process_start=process.started,
                started_at=utcnow(),
                created_by=change.actor,
            )
        )
        change.details.update(
            {
                "snapshot": snap.ref,
                "feature_set": feature_set_ref,
                "seed": spec.seed,
                "estimator": spec.estimator,
                "code": code.describe(),
                "forced": forced,
                "leakage_warnings": [f.message for f in leakage.warnings],
            }
        )
    return run_id


def record_failure(
    ctx: Context, run_id: str, exc: BaseException, timings: dict[str, float]
) -> None:
    interrupted = not isinstance(exc, Exception)
    tail = "".join(traceback.format_exception(exc)[-3:]).strip()
    error = f"{type(exc).__name__}: {exc}\n{tail}"
    status = "interrupted" if interrupted else "failed"
    with ctx.store.change(
        f"run.{'interrupt' if interrupted else 'fail'}", f"run:{run_id}"
    ) as change:
        row = change.session.get(TrainingRunRow, run_id)
        assert row is not None
        row.status = status
        row.error = error
        row.timings = timings
        row.finished_at = utcnow()
        change.details.update({"status": status, "error": f"{type(exc).__name__}: {exc}"})


def record_success(
    ctx: Context,
    run_id: str,
    *,
    fitted_metrics: dict[str, float | None],
    baseline_metrics: dict[str, float | None],
    artifacts: dict[str, str],
    trusted: list[str],
    classes: list[Any] | None,
    output_columns: list[str] | None,
    pinned: list[str],
    timings: dict[str, float],
    leakage: LeakageReport,
) -> TrainingRun:
    with ctx.store.change("run.succeed", f"run:{run_id}") as change:
        row = change.session.get(TrainingRunRow, run_id)
        assert row is not None
        row.status = "succeeded"
        row.metrics = fitted_metrics
        row.baseline_metrics = baseline_metrics
        row.model_artifact = artifacts["model"]
        row.baseline_artifact = artifacts["baseline"]
        row.predictions_artifact = artifacts["predictions"]
        row.trusted_types = trusted
        row.classes = classes
        row.output_columns = output_columns
        row.timings = {k: round(v, 6) for k, v in timings.items()}
        row.finished_at = utcnow()
        row.seeded_params = pinned
        if "refit_predictions" in artifacts:  # the saved model was refitted on all rows
            row.split = {**row.split, "refit_predictions": artifacts["refit_predictions"]}
        # The data checks' findings were recorded at the start; the model check adds its own.
        row.leakage = [f.to_dict() for f in leakage.findings]
        change.details.update(
            {
                "metrics": fitted_metrics,
                "baseline_metrics": baseline_metrics,
                "model_artifact": artifacts["model"],
                "baseline_artifact": artifacts["baseline"],
                "predictions_hash": artifacts["predictions"],
                "leakage": [f.message for f in leakage.findings],
            }
        )
        run = row.to_entity()
    return run
