"""``stead reproduce RUN``: re-execute a run from its recorded inputs, compare bit for bit.

The re-run uses the run's snapshot (verified by content hash), its *stored* sources (not
today's files), its recorded spec and seed, in the current environment. It passes when
the evaluation rows and the evaluation predictions are bit-identical and every metric is
equal; for a run refitted on all rows (``[training.split] refit``) the refitted model's
predictions on the evaluation rows must be bit-identical too, since that is the model
saved and registered. Either way the attempt is recorded as a :class:`RunVerification`
(audited), which the readiness checklist reads later; a mismatch raises :class:`ReproductionFailed`
listing environment differences, source differences and the size of the prediction
difference.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from stead.core.clock import utcnow
from stead.core.errors import Conflict, IntegrityError, ReproductionFailed
from stead.core.ids import new_id
from stead.features.sources import SourceBundle, collect_sources, importing, module_path
from stead.training.environment import capture_environment, diff_environments
from stead.training.evaluation import (
    Predictions,
    prediction_difference,
    predictions_from_bytes,
)
from stead.training.execute import StepCallback, fit_and_evaluate, prepare
from stead.training.run import RunVerification, TrainingRun
from stead.training.split import eval_rows_from_bytes, split_rows
from stead.training.tables import RunVerificationRow

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService

MAX_LISTED = 8


def reproduce_run(
    ctx: Context,
    run: TrainingRun,
    *,
    datasets: DatasetService,
    on_step: StepCallback | None = None,
) -> RunVerification:
    """Re-execute ``run`` and record whether it reproduced (see the module docstring).

    Raises:
        Conflict: the run did not succeed, so there is nothing to reproduce.
        ReproductionFailed: the re-run differs; the verification is recorded first.
    """
    if run.status != "succeeded" or run.predictions_artifact is None:
        raise Conflict(f"run {run.id} is {run.status}; only a succeeded run can be reproduced")
    assert run.eval_rows_artifact is not None
    artifacts = ctx.artifacts
    label = f"sources of run {run.id}"
    bundle = SourceBundle.from_bytes(
        artifacts.get_bytes(run.sources_artifact, label=label), label=label
    )
    if bundle.digest != run.code_version.sources_hash:
        raise IntegrityError(
            f"the stored sources of run {run.id} hash to {bundle.digest[:12]}, not the "
            f"recorded {run.code_version.sources_hash[:12]}"
        )
    recorded_rows = eval_rows_from_bytes(
        artifacts.get_bytes(run.eval_rows_artifact, label=f"evaluation rows of run {run.id}")
    )
    plabel = f"evaluation predictions of run {run.id}"
    recorded = predictions_from_bytes(
        artifacts.get_bytes(run.predictions_artifact, label=plabel), label=plabel
    )
    snap = datasets.get_by_id(run.snapshot_id)
    frame = datasets.load(snap)
    spec = run.spec

    with importing(bundle, root=ctx.root):
        prepared = prepare(spec, frame, source=f"snapshot {snap.ref}")
        split = split_rows(
            frame,
            settings=spec.split,
            task=spec.task,
            target=spec.target,
            time_column=spec.time_column,
            seed=spec.seed,
        )
        environment = capture_environment()
        fitted = fit_and_evaluate(prepared, frame, split, spec, on_step=on_step)

    differences: dict[str, Any] = {}
    if prepared.input_columns != run.input_columns:
        differences["input_columns"] = {
            "recorded": run.input_columns,
            "now": prepared.input_columns,
        }
    rows_equal = np.array_equal(split.eval, recorded_rows)
    if not rows_equal:
        differences["eval_rows"] = {
            "recorded": len(recorded_rows),
            "now": len(split.eval),
            "differing": len(np.setxor1d(split.eval, recorded_rows)),
        }
    new_bytes = fitted.predictions.to_bytes()
    new_hash = hashlib.sha256(new_bytes).hexdigest()
    predictions_equal = rows_equal and new_hash == run.predictions_hash
    if not predictions_equal:
        gap = prediction_difference(recorded, fitted.predictions.values, task=spec.task)
        differences["predictions"] = {**gap.to_dict(), "summary": gap.describe()}
    refit_hash = _refit_hash(fitted.refit_predictions)
    if refit_hash != run.split.get("refit_predictions"):
        predictions_equal = False
        differences["refit_predictions"] = {
            "recorded": run.split.get("refit_predictions"),
            "now": refit_hash,
        }
    metric_changes = {
        name: {"recorded": value, "now": fitted.metrics.get(name)}
        for name, value in run.metrics.items()
        if fitted.metrics.get(name) != value
    }
    if metric_changes:
        differences["metrics"] = metric_changes
    env = diff_environments(run.environment, environment)
    differences["environment"] = [d.to_dict() for d in env]
    sources = _source_differences(ctx, bundle)
    differences["sources"] = sources
    verified = predictions_equal and not metric_changes and "input_columns" not in differences

    verification_id = new_id("rv")
    action = "run.reproduce.verified" if verified else "run.reproduce.mismatch"
    with ctx.store.change(action, f"run:{run.id}") as change:
        row = RunVerificationRow(
            id=verification_id,
            run_id=run.id,
            verified=verified,
            predictions_hash=new_hash,
            metrics=fitted.metrics,
            environment=environment,
            differences=differences,
            checked_at=utcnow(),
            checked_by=change.actor,
        )
        change.session.add(row)
        change.details.update(
            {
                "verification_id": verification_id,
                "verified": verified,
                "recorded_predictions_hash": run.predictions_hash,
                "predictions_hash": new_hash,
                "environment_differences": len(env),
            }
        )
        verification = row.to_entity()
    if not verified:
        raise ReproductionFailed(
            _mismatch_message(run, differences, env_lines=[d.describe() for d in env]),
            details={"run_id": run.id, "verification_id": verification_id, **differences},
        )
    return verification


def _refit_hash(predictions: Predictions | None) -> str | None:
    if predictions is None:
        return None
    return hashlib.sha256(predictions.to_bytes()).hexdigest()


def _source_differences(ctx: Context, stored: SourceBundle) -> dict[str, Any]:
    """How the workspace's current sources differ from the stored ones that were re-run."""
    present = [m for m in stored.modules if module_path(ctx.root, m) is not None]
    try:
        current = collect_sources(ctx.root, present) if present else SourceBundle(files={})
    except Exception as exc:  # an unreadable file today must not hide the result
        return {"error": f"could not read the current sources: {exc}"}
    return stored.diff(current).to_dict()


def _mismatch_message(
    run: TrainingRun, differences: dict[str, Any], *, env_lines: list[str]
) -> str:
    parts = [f"run {run.id} did not reproduce"]
    if "predictions" in differences:
        parts.append(f"predictions: {differences['predictions']['summary']}")
    if "refit_predictions" in differences:
        parts.append("the model refitted on all rows predicts differently")
    if "eval_rows" in differences:
        rows = differences["eval_rows"]
        parts.append(
            f"evaluation rows differ ({rows['differing']} rows; recorded {rows['recorded']}, "
            f"now {rows['now']})"
        )
    if "input_columns" in differences:
        parts.append("the feature set now reads different input columns")
    if "metrics" in differences:
        parts.append(
            "metrics: "
            + ", ".join(
                f"{name} {c['recorded']} → {c['now']}" for name, c in differences["metrics"].items()
            )
        )
    if env_lines:
        listed = env_lines[:MAX_LISTED]
        more = len(env_lines) - len(listed)
        parts.append(
            "environment differences: " + "; ".join(listed) + (f"; and {more} more" if more else "")
        )
    else:
        parts.append("environment differences: none (same packages, platform and threads)")
    sources = differences.get("sources", {})
    changed = [f"{k}: {', '.join(v)}" for k, v in sources.items() if v and k != "error"]
    parts.append(
        "source differences (workspace now vs the stored sources that were re-run): "
        + ("; ".join(changed) if changed else "none")
    )
    if not env_lines and not changed:
        parts.append(
            "same environment and sources: the code draws randomness stead does not seed "
            "(e.g. an unseeded np.random.default_rng()); pass the run's seed to it"
        )
    return ". ".join(parts)
