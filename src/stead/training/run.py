"""The TrainingRun and RunVerification entities, and the outcome of ``ws.runs.train``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from stead.core.errors import SteadError
from stead.training.spec import RunSpec

if TYPE_CHECKING:
    from stead.features.leakage import LeakageReport

RunStatus = Literal["running", "succeeded", "failed", "interrupted"]


class TrainingFailed(SteadError):
    """The fit (or evaluation) raised; the run is recorded as failed with the error."""

    code: ClassVar[str] = "training_failed"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1


@dataclass(frozen=True)
class RunCodeVersion:
    """The code a run used: the workspace's git state and the project sources it ran.

    ``sources_hash`` covers exactly the files in ``files`` (path → SHA-256), whose content
    is stored as the artifact ``sources_artifact``.
    """

    commit: str | None
    dirty: bool
    repo: str | None
    sources_hash: str
    sources_artifact: str
    files: dict[str, str]

    def describe(self) -> str:
        git = (
            "no git" if self.commit is None else self.commit[:12] + (" dirty" if self.dirty else "")
        )
        return f"{git}, sources {self.sources_hash[:12]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "dirty": self.dirty,
            "repo": self.repo,
            "sources_hash": self.sources_hash,
            "sources_artifact": self.sources_artifact,
            "files": dict(self.files),
        }


@dataclass(frozen=True)
class TrainingRun:
    """One training run: its inputs, what it produced, and where it stands.

    A succeeded run has ``model_artifact`` (the fitted features + estimator as one skops
    pipeline), ``baseline_artifact`` (the fallback pipeline), ``predictions_artifact``
    (the evaluation predictions, whose SHA-256 is ``predictions_hash``) and
    ``eval_rows_artifact`` (positions of the evaluation rows in the snapshot). A failed or
    interrupted run has none of them and says why in ``error``.
    """

    id: str
    status: RunStatus
    key: str
    project: str
    spec: RunSpec
    seed: int
    snapshot_id: str
    snapshot_ref: str
    feature_set_id: str
    feature_set_ref: str
    feature_set_version: str
    input_columns: list[str]
    output_columns: list[str] | None
    classes: list[Any] | None
    code_version: RunCodeVersion
    environment: dict[str, Any]
    split: dict[str, Any]
    leakage: list[dict[str, Any]]
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, float | None]
    model_artifact: str | None
    baseline_artifact: str | None
    predictions_artifact: str | None
    eval_rows_artifact: str | None
    trusted_types: list[str]
    seeded_params: list[str]
    timings: dict[str, float]
    error: str | None
    forced: bool
    host: str
    pid: int
    started_at: datetime
    finished_at: datetime | None
    created_by: str

    @property
    def predictions_hash(self) -> str | None:
        """SHA-256 of the evaluation predictions (the ``.npy`` bytes)."""
        return self.predictions_artifact

    @property
    def sources_artifact(self) -> str:
        return self.code_version.sources_artifact

    @property
    def task(self) -> str:
        return self.spec.task

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "key": self.key,
            "project": self.project,
            "task": self.spec.task,
            "seed": self.seed,
            "snapshot_id": self.snapshot_id,
            "snapshot": self.snapshot_ref,
            "feature_set_id": self.feature_set_id,
            "feature_set": self.feature_set_ref,
            "feature_set_version": self.feature_set_version,
            "input_columns": self.input_columns,
            "output_columns": self.output_columns,
            "classes": self.classes,
            "spec": self.spec.to_dict(),
            "code_version": self.code_version.to_dict(),
            "environment": self.environment,
            "split": self.split,
            "leakage": self.leakage,
            "metrics": self.metrics,
            "baseline_metrics": self.baseline_metrics,
            "artifacts": {
                "model": self.model_artifact,
                "baseline": self.baseline_artifact,
                "eval_predictions": self.predictions_artifact,
                "eval_rows": self.eval_rows_artifact,
                "sources": self.sources_artifact,
            },
            "predictions_hash": self.predictions_hash,
            "trusted_types": self.trusted_types,
            "seeded_params": self.seeded_params,
            "timings": self.timings,
            "error": self.error,
            "forced": self.forced,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class TrainOutcome:
    """What ``ws.runs.train`` did: trained a new run, or found the same inputs' run."""

    run: TrainingRun
    created: bool
    forced: bool = False
    replaced: str | None = None
    leakage: LeakageReport | None = None

    @property
    def message(self) -> str:
        run = self.run
        if not self.created:
            return (
                f"run {run.id} already trained these inputs (snapshot {run.snapshot_ref}, "
                f"features {run.feature_set_ref}, spec, seed {run.seed}, code); nothing "
                "retrained. Pass --force to train anew"
            )
        text = (
            f"trained run {run.id} on {run.snapshot_ref} with features {run.feature_set_ref} "
            f"in {run.timings.get('total', 0.0):.1f} s"
        )
        if self.forced and self.replaced:
            text += f" (--force: trained anew although run {self.replaced} has the same inputs)"
        elif self.forced:
            text += " (--force)"
        for finding in run.leakage:
            if finding.get("check") == "too_good" and finding.get("severity") == "error":
                text += (
                    f"; leakage: {finding.get('message')}; the readiness checklist refuses "
                    "this run for production"
                )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "forced": self.forced,
            "same_inputs_as": self.replaced,
            "message": self.message,
            "run": self.run.to_dict(),
        }


@dataclass(frozen=True)
class RunVerification:
    """An audited attempt to reproduce a run: ``verified`` is true when the re-run gave
    bit-identical evaluation predictions and equal metrics."""

    id: str
    run_id: str
    verified: bool
    predictions_hash: str | None
    metrics: dict[str, float | None]
    environment: dict[str, Any]
    differences: dict[str, Any] = field(default_factory=dict)
    checked_at: datetime | None = None
    checked_by: str = ""

    @property
    def status(self) -> str:
        return "verified" if self.verified else "mismatch"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "status": self.status,
            "verified": self.verified,
            "predictions_hash": self.predictions_hash,
            "metrics": self.metrics,
            "differences": self.differences,
            "checked_at": None if self.checked_at is None else self.checked_at.isoformat(),
            "checked_by": self.checked_by,
        }
