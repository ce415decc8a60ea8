"""Registering a run as ``NAME@N``: gather its facts, sign its manifest, record it.

Everything a version says about itself is gathered here once, from records, and frozen:
the run's artifacts and trusted types, the input contract (the snapshot's schema
restricted to the feature set's input columns), the output description, the project's
problem statement, intended use, assumptions and limitations, and the training data's
rows, time range and class balance. The model card is later rendered from these facts
only, never from whatever ``stead.toml`` says by then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from stead.core.clock import utcnow
from stead.core.errors import Conflict, UsageError
from stead.core.ids import new_id
from stead.data.snapshot import DatasetSnapshot, check_name
from stead.registry.signing import Signer, digest
from stead.registry.tables import ModelStageChangeRow, ModelVersionRow
from stead.registry.version import ModelVersion, RegisterOutcome
from stead.training.evaluation import predictions_from_bytes
from stead.training.project import resolve_project
from stead.training.run import TrainingRun

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService

PROJECT_FACTS = ("name", "problem", "kpi", "intended_use", "assumptions", "limitations")


def find_registered(ctx: Context, name: str, run_id: str) -> ModelVersion | None:
    with ctx.store.read() as session:
        row = session.scalars(
            select(ModelVersionRow).where(
                ModelVersionRow.name == name, ModelVersionRow.run_id == run_id
            )
        ).first()
        return row.to_entity() if row else None


def register_version(
    ctx: Context,
    run: TrainingRun,
    *,
    name: str,
    signer: Signer,
    datasets: DatasetService,
    owner: str | None = None,
    description: str | None = None,
    reason: str | None = None,
) -> RegisterOutcome:
    """Record ``run`` as the next version of ``name`` (or return the one that holds it).

    Raises:
        Conflict: the run did not succeed (it has no model).
        UsageError: a bad name, or no owner anywhere.
    """
    check_name(name)
    existing = find_registered(ctx, name, run.id)
    if existing is not None:
        return RegisterOutcome(existing, created=False)
    if run.status != "succeeded" or not run.model_artifact or not run.baseline_artifact:
        raise Conflict(
            f"run {run.id} is {run.status}; only a succeeded run (with a model and a baseline) "
            "can be registered"
        )
    snapshot = datasets.get_by_id(run.snapshot_id)
    project = project_facts(ctx, run)
    chosen_owner = (owner or project.get("owner") or "").strip()
    if not chosen_owner:
        raise UsageError(
            f"model {name} needs an owner: set [project] owner in stead.toml or pass --owner"
        )
    contract = datasets.contract(snapshot, columns=run.input_columns)
    contract_hash = digest(contract.to_dict())
    artifacts = {
        "model": run.model_artifact,
        "baseline": run.baseline_artifact,
        "eval_predictions": run.predictions_artifact or "",
        "eval_rows": run.eval_rows_artifact or "",
        "sources": run.sources_artifact,
    }
    output = output_description(ctx, run)
    training_data = training_data_facts(run, snapshot, datasets)
    reference = {
        "snapshot_id": snapshot.id,
        "snapshot": snapshot.ref,
        "columns": [c for c in run.input_columns if _profiled(snapshot, c)],
    }
    registered_at = utcnow()

    with ctx.store.change("model.register", f"model:{name}", reason=reason) as change:
        session = change.session
        again = session.scalars(
            select(ModelVersionRow).where(
                ModelVersionRow.name == name, ModelVersionRow.run_id == run.id
            )
        ).first()
        if again is not None:  # another process registered this run while we gathered
            change.action = "model.register.reused"
            change.subject = f"model:{name}@{again.version}"
            return RegisterOutcome(again.to_entity(), created=False)
        latest = session.scalar(
            select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)
        )
        number = (latest or 0) + 1
        manifest = {
            "model": f"{name}@{number}",
            "name": name,
            "version": number,
            "run_id": run.id,
            "task": run.task,
            "artifacts": artifacts,
            "trusted_types": sorted(run.trusted_types),
            "snapshot": {
                "id": snapshot.id,
                "ref": snapshot.ref,
                "content_hash": snapshot.content_hash,
                "artifact": snapshot.artifact,
            },
            "feature_set": {"ref": run.feature_set_ref, "version": run.feature_set_version},
            "input_columns": run.input_columns,
            "contract_hash": contract_hash,
            "output": output,
            "registered_at": registered_at.isoformat(),
        }
        text, signature = signer.sign(manifest)
        row = ModelVersionRow(
            id=new_id("mv"),
            name=name,
            version=number,
            stage="candidate",
            run_id=run.id,
            task=run.task,
            owner=chosen_owner,
            artifacts=artifacts,
            trusted_types=sorted(run.trusted_types),
            snapshot_id=snapshot.id,
            snapshot_ref=snapshot.ref,
            snapshot_hash=snapshot.content_hash,
            feature_set_id=run.feature_set_id,
            feature_set_ref=run.feature_set_ref,
            feature_set_version=run.feature_set_version,
            input_columns=list(run.input_columns),
            contract=contract.to_dict(),
            contract_hash=contract_hash,
            output=output,
            project=project,
            training_data=training_data,
            reference=reference,
            manifest=text,
            signature=signature,
            key_fingerprint=signer.fingerprint,
            description=description,
            registered_at=registered_at,
            registered_by=change.actor,
        )
        session.add(row)
        session.flush()
        session.add(
            ModelStageChangeRow(
                id=new_id("sc"),
                version_id=row.id,
                name=name,
                version=number,
                from_stage=None,
                to_stage="candidate",
                actor=change.actor,
                reason=reason,
                at=registered_at,
                override=False,
                overridden=[],
                checklist={},
                cause="register",
            )
        )
        change.subject = f"model:{name}@{number}"
        change.details.update(
            {
                "version_id": row.id,
                "run_id": run.id,
                "owner": chosen_owner,
                "artifacts": artifacts,
                "snapshot": snapshot.ref,
                "feature_set": run.feature_set_ref,
                "contract_hash": contract_hash,
                "key_fingerprint": signer.fingerprint,
            }
        )
        version = row.to_entity()
    return RegisterOutcome(version, created=True)


def project_facts(ctx: Context, run: TrainingRun) -> dict[str, Any]:
    """The project facts to freeze into the version.

    A run records its project's name (and the spec: task, target, columns); the problem
    statement, owner, intended use, assumptions and limitations are read from
    ``[project]`` at registration, and ``source`` says so.
    """
    project = resolve_project(ctx.settings)
    if project is None:
        return {
            "name": run.project,
            "owner": None,
            "problem": None,
            "kpi": None,
            "intended_use": None,
            "assumptions": [],
            "limitations": [],
            "source": "none: stead.toml has no [project] table",
        }
    facts = {key: getattr(project, key) for key in PROJECT_FACTS}
    facts["owner"] = project.owner
    note = "stead.toml [project] at registration"
    if project.name != run.project:
        note += f" (project {project.name!r}; the run was trained for {run.project!r})"
    return {**facts, "source": note}


def output_description(ctx: Context, run: TrainingRun) -> dict[str, Any]:
    """What the model returns: task, target, classes, and what its scores are."""
    output: dict[str, Any] = {
        "task": run.task,
        "target": run.spec.target,
        "classes": run.classes,
    }
    if run.task == "regression":
        output["scores"] = "values"
        return output
    scores = "labels"
    if run.predictions_artifact:
        values = predictions_from_bytes(
            ctx.artifacts.get_bytes(
                run.predictions_artifact, label=f"evaluation predictions of run {run.id}"
            )
        )
        scores = "probabilities" if values.ndim == 2 else "labels"
    output["scores"] = scores
    return output


def training_data_facts(
    run: TrainingRun, snapshot: DatasetSnapshot, datasets: DatasetService
) -> dict[str, Any]:
    """Rows, time range, class balance (or target summary) and split sizes."""
    target = run.spec.target
    time_column = run.spec.time_column
    time_range = None
    if time_column and time_column in snapshot.schema.names:
        column = snapshot.schema.column(time_column)
        if column.min is not None:
            time_range = [str(column.min), str(column.max)]
    facts: dict[str, Any] = {
        "snapshot": snapshot.ref,
        "snapshot_id": snapshot.id,
        "content_hash": snapshot.content_hash,
        "rows": snapshot.rows,
        "columns": len(snapshot.schema.columns),
        "source_path": snapshot.source_path,
        "source_hash": snapshot.source_hash,
        "parent_id": snapshot.parent_id,
        "time_column": time_column,
        "time_range": time_range,
        "target": target,
        "split": dict(run.split),
        "class_balance": None,
        "target_summary": None,
    }
    try:
        profile = snapshot.profile.column(target)
    except KeyError:
        return facts
    if run.task == "regression":
        facts["target_summary"] = {
            "mean": profile.mean,
            "std": profile.std,
            "min": profile.min,
            "max": profile.max,
        }
    elif profile.level_counts:
        facts["class_balance"] = dict(profile.level_counts)
    else:
        # A numeric class label (0/1) has bins, not level counts, in its profile:
        # count the classes once, now, so the card never needs the data again.
        counts = datasets.load(snapshot)[target].value_counts().sort_index()
        facts["class_balance"] = {str(k): int(v) for k, v in counts.items()}
    return facts


def _profiled(snapshot: DatasetSnapshot, column: str) -> bool:
    try:
        profile = snapshot.profile.column(column)
    except KeyError:
        return False
    return bool(profile.bin_edges or profile.level_counts)
