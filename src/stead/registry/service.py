"""``ws.models``: register, look up, promote, retire, verify, load, describe and trace
model versions."""

from __future__ import annotations

import builtins
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from stead.core.clock import utcnow
from stead.core.errors import GateFailed, NotFound, PermissionDenied, UsageError
from stead.core.ids import new_id
from stead.data.contract import Contract
from stead.data.profile import Profile
from stead.registry.evidence import BACKTEST, Evidence, check_item
from stead.registry.lineage import LineageNode, model_lineage
from stead.registry.loading import LoadedModel, VersionLoader, VersionVerification
from stead.registry.settings import checklist_settings, registry_settings
from stead.registry.signing import Signer, create_key, load_key
from stead.registry.stages import StageMove, check_transition, live_at, move_stage, order_key
from stead.registry.tables import ModelEvidenceRow, ModelStageChangeRow, ModelVersionRow
from stead.registry.version import (
    ModelRef,
    ModelVersion,
    RegisterOutcome,
    StageChange,
    check_stage,
)

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.data.service import DatasetService
    from stead.features.service import FeatureService
    from stead.registry.card import ModelCard
    from stead.registry.champion import ChampionComparison
    from stead.registry.checklist import Checklist, MonitoringReadiness
    from stead.security.access import AccessPolicy
    from stead.training.service import RunService

# Checklists, cards and registration evaluate models (scikit-learn): the methods that
# build them import them, so that listing versions, runs or endpoints does not.


class ModelRegistry:
    """The governed model registry of a workspace (``ws.models``)."""

    def __init__(
        self,
        context: Context,
        *,
        datasets: DatasetService,
        features: FeatureService,
        runs: RunService,
        access: AccessPolicy,
        monitoring_readiness: MonitoringReadiness,
    ) -> None:
        self._ctx = context
        self._monitoring_readiness = monitoring_readiness
        self._datasets = datasets
        self._features = features
        self._runs = runs
        self._access = access
        self._loader = VersionLoader(context, self._signer)

    # -- signing --------------------------------------------------------------------

    @property
    def key_path(self) -> Path:
        return self._ctx.settings.resolve_path(self._ctx.settings.signing.key_path)

    @cached_property
    def _signer_instance(self) -> Signer:
        return Signer(load_key(self.key_path))

    def _signer(self) -> Signer:
        return self._signer_instance

    def _ensure_key(self) -> None:
        """Create the signing key of a workspace made before keys existed (audited)."""
        if create_key(self.key_path):
            signer = self._signer()
            with self._ctx.store.change("signing.key.create", "signing_key") as change:
                change.details.update(
                    {"key_path": str(self.key_path), "fingerprint": signer.fingerprint}
                )

    # -- registering ----------------------------------------------------------------

    def register(
        self,
        run: str,
        *,
        name: str,
        owner: str | None = None,
        description: str | None = None,
        reason: str | None = None,
    ) -> RegisterOutcome:
        """Register a succeeded run as the next version ``NAME@N`` (a ``candidate``).

        Records the run, its artifact hashes, the input contract, the output description,
        the owner (``[project] owner`` unless given) and the project facts, and signs a
        manifest of them. Registering the same run under the same name again returns the
        existing version.

        Raises:
            NotFound: no such run.
            Conflict: the run did not succeed.
            UsageError: a bad name, or no owner.
        """
        from stead.registry.register import register_version

        training_run = self._runs.get(run)
        self._ensure_key()
        return register_version(
            self._ctx,
            training_run,
            name=name,
            signer=self._signer(),
            datasets=self._datasets,
            owner=owner,
            description=description,
            reason=reason,
        )

    # -- reading --------------------------------------------------------------------

    def get(self, ref: str | ModelRef) -> ModelVersion:
        """``NAME@N``, ``NAME@production`` / ``NAME@staging`` (newest in that stage), or
        ``NAME`` (the latest version).

        Raises:
            NotFound: naming what exists instead.
        """
        ref = ModelRef.parse(ref) if isinstance(ref, str) else ref
        with self._ctx.store.read() as session:
            query = select(ModelVersionRow).where(ModelVersionRow.name == ref.name)
            if ref.version is not None:
                query = query.where(ModelVersionRow.version == ref.version)
            elif ref.stage is not None:
                query = query.where(ModelVersionRow.stage == ref.stage)
            row = session.scalars(query.order_by(ModelVersionRow.version.desc()).limit(1)).first()
            if row is not None:
                return row.to_entity()
            latest = session.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == ref.name)
            )
        if not latest:
            raise NotFound(f"no model named {ref.name!r}; `stead models list` shows the models")
        if ref.stage is not None:
            raise NotFound(f"no version of {ref.name} is in {ref.stage}")
        raise NotFound(f"model {ref.name} has no version {ref.version}; versions are 1 to {latest}")

    def list(
        self, name: str | None = None, *, stage: str | None = None
    ) -> builtins.list[ModelVersion]:
        """Versions, by name, newest version first."""
        query = select(ModelVersionRow).order_by(
            ModelVersionRow.name, ModelVersionRow.version.desc()
        )
        if name is not None:
            query = query.where(ModelVersionRow.name == name)
        if stage is not None:
            query = query.where(ModelVersionRow.stage == check_stage(stage))
        with self._ctx.store.read() as session:
            return [row.to_entity() for row in session.scalars(query)]

    def production(self, name: str) -> ModelVersion | None:
        """The version of ``name`` in production, if any."""
        found = self.list(name, stage="production")
        return found[0] if found else None

    def history(self, name: str | None = None) -> builtins.list[StageChange]:
        """Every stage change (of ``name``'s versions, or all), oldest first."""
        query = select(ModelStageChangeRow)
        if name is not None:
            query = query.where(ModelStageChangeRow.name == name)
        with self._ctx.store.read() as session:
            changes = [row.to_entity() for row in session.scalars(query)]
        if name is not None and not changes:
            self.get(name)  # says the model does not exist
        return sorted(changes, key=order_key)

    def live_at(self, name: str, when: datetime) -> ModelVersion | None:
        """The version of ``name`` that was in production at ``when`` (``None``: none)."""
        ref = live_at(self.history(name), when)
        return None if ref is None else self.get(ref)

    # -- stages ---------------------------------------------------------------------

    def promote(
        self,
        ref: str,
        *,
        to: str,
        reason: str | None = None,
        override: bool = False,
    ) -> StageMove:
        """Move a version to ``to`` (``staging``, ``production``, or back from production
        to ``staging``).

        Only a member of the owning team or an admin may. Moving into ``production`` runs
        the readiness checklist: every before-deployment item must pass, unless an admin
        passes ``override=True`` with a ``reason`` (audited and shown on the card).

        Raises:
            PermissionDenied: the actor is not in the owning team (nor an admin), or
                overrides without being an admin; the refusal is audited.
            GateFailed: checklist items fail; lists every one (the refusal is audited).
            Conflict: not an allowed move, or a concurrent change.
            UsageError: an override without a reason.
        """
        version = self.get(ref)
        stage = check_stage(to)
        self._require_owner(version, f"promote {version.ref} to {stage}")
        if override:
            if not (reason or "").strip():
                raise UsageError("an override needs a reason: pass --reason '...' (it is audited)")
            self._require_admin(version, f"override the readiness checklist of {version.ref}")
        check_transition(version, stage)
        champion_id = None
        checklist: Checklist | None = None
        if stage == "production":
            champion = self.production(version.name)
            champion_id = champion.id if champion else None
            checklist = self._checklist(version, champion)
            if not checklist.ready and not override:
                self._refuse(version, "gate", checklist=checklist)
                raise _gate_failed(version, checklist)
        blocking = [i.key for i in checklist.blocking] if checklist else []
        return move_stage(
            self._ctx,
            version,
            stage,
            action="model.promote",
            reason=reason,
            expected_champion=champion_id,
            replaced_to=registry_settings(self._ctx.settings).replaced_production_to,
            override=bool(override and blocking),
            overridden=blocking if override else [],
            checklist=checklist.statuses() if checklist else {},
        )

    def retire(self, ref: str, *, reason: str | None = None) -> StageMove:
        """Retire a version: it can no longer be promoted, but keeps artifacts and lineage.

        Raises:
            PermissionDenied: the actor is not in the owning team (nor an admin).
            Conflict: it is already retired.
        """
        version = self.get(ref)
        self._require_owner(version, f"retire {version.ref}")
        check_transition(version, "retired")
        return move_stage(
            self._ctx,
            version,
            "retired",
            action="model.retire",
            reason=reason,
            expected_champion=None,
            replaced_to="staging",
        )

    def _require_owner(self, version: ModelVersion, action: str) -> None:
        try:
            self._access.require_owner(self._ctx.actor, version.owner, action=action)
        except PermissionDenied as error:
            self._refuse(version, "permission", message=error.message)
            raise

    def _require_admin(self, version: ModelVersion, action: str) -> None:
        try:
            self._access.require_admin(self._ctx.actor, action=action)
        except PermissionDenied as error:
            self._refuse(version, "permission", message=error.message)
            raise

    def _refuse(
        self,
        version: ModelVersion,
        why: str,
        *,
        message: str | None = None,
        checklist: Checklist | None = None,
    ) -> None:
        with self._ctx.store.change("model.promote.refused", f"model:{version.ref}") as change:
            change.details.update({"version_id": version.id, "refused_by": why})
            if message:
                change.details["message"] = message
            if checklist is not None:
                change.details["failing"] = {i.key: i.detail for i in checklist.blocking}

    # -- checklist and evidence -----------------------------------------------------

    def checklist(self, ref: str) -> Checklist:
        """Every readiness item of a version, pass / fail / pending, with evidence."""
        version = self.get(ref)
        return self._checklist(version, self.production(version.name))

    def _checklist(self, version: ModelVersion, champion: ModelVersion | None) -> Checklist:
        from stead.registry.checklist import ChecklistBuilder

        builder = ChecklistBuilder(
            self._ctx,
            runs=self._runs,
            loader=self._loader,
            settings=checklist_settings(self._ctx.settings),
            monitoring_readiness=self._monitoring_readiness,
        )
        return builder.build(version, champion=champion, evidence=self.evidence(version.ref))

    def record_evidence(
        self,
        ref: str,
        item: str,
        *,
        passed: bool,
        evidence: str,
        details: dict[str, Any] | None = None,
    ) -> Evidence:
        """Record evidence for an after-deployment item (audited as ``model.evidence``).

        Args:
            item: ``drift_detection``, ``performance_logged``, ``alerts_tested`` or
                ``rollback_verified``.
            passed: whether the evidence shows the item working.
            evidence: one sentence a reader of the checklist understands.
            details: structured facts (monitor name, window, alert id ...).

        Raises:
            UsageError: an unknown item or empty evidence.
        """
        check_item(item)
        if not evidence.strip():
            raise UsageError("evidence must say what was observed, in a sentence")
        return self._add_evidence(ref, item, passed=passed, evidence=evidence, details=details)

    def record_backtest(
        self, ref: str, comparison: ChampionComparison, *, evidence: str, run_id: str
    ) -> Evidence:
        """Record a retrain's backtest of ``ref`` against production (audited as
        ``model.evidence``); the checklist's ``champion_challenger`` item judges on it.

        Args:
            comparison: both versions' metric on the backtest rows (``on`` says which).
            evidence: one sentence saying what was fitted and scored where.
            run_id: the backtest run (the candidate's procedure without those rows).

        Raises:
            PermissionDenied: the actor is not in the owning team (nor an admin): a
                backtest decides a gate item, so only those who may promote record one.
        """
        version = self.get(ref)
        self._require_owner(version, f"record a backtest of {version.ref}")
        tolerance = checklist_settings(self._ctx.settings).champion_tolerance
        return self._add_evidence(
            ref,
            BACKTEST,
            passed=comparison.advantage >= -tolerance,
            evidence=evidence,
            details={**comparison.to_dict(), "backtest_run": run_id},
        )

    def _add_evidence(
        self,
        ref: str,
        item: str,
        *,
        passed: bool,
        evidence: str,
        details: dict[str, Any] | None,
    ) -> Evidence:
        version = self.get(ref)
        with self._ctx.store.change("model.evidence", f"model:{version.ref}") as change:
            row = ModelEvidenceRow(
                id=new_id("me"),
                version_id=version.id,
                item=item,
                passed=passed,
                evidence=evidence,
                details=dict(details or {}),
                recorded_at=utcnow(),
                recorded_by=change.actor,
            )
            change.session.add(row)
            change.details.update(
                {"item": item, "passed": passed, "evidence": evidence, **(details or {})}
            )
            return row.to_entity(ref=version.ref)

    def evidence(self, ref: str) -> builtins.list[Evidence]:
        """Recorded evidence of a version (after-deployment items and backtests), oldest
        first."""
        version = self.get(ref)
        with self._ctx.store.read() as session:
            rows = session.scalars(
                select(ModelEvidenceRow)
                .where(ModelEvidenceRow.version_id == version.id)
                .order_by(ModelEvidenceRow.recorded_at, ModelEvidenceRow.id)
            )
            return [row.to_entity(ref=version.ref) for row in rows]

    # -- integrity and loading ------------------------------------------------------

    def verify(self, ref: str) -> VersionVerification:
        """Check the manifest signature and every artifact's hash.

        Raises:
            IntegrityError: naming the version and what was altered (audited).
        """
        return self._loader.verify(self.get(ref))

    def load(self, ref: str) -> LoadedModel:
        """The verified, fitted pipeline and baseline of a version (for serving).

        Raises:
            IntegrityError: the manifest, its signature or an artifact was altered
                (audited), or an artifact holds an untrusted type.
        """
        return self._loader.load(self.get(ref))

    def contract(self, ref: str) -> Contract:
        """The input contract of a version (after verifying its signed hash)."""
        version = self.get(ref)
        self._loader.manifest(version)
        return version.contract

    def reference_profile(self, ref: str) -> Profile:
        """The drift reference: the training snapshot's profile of the version's inputs."""
        version = self.get(ref)
        snapshot = self._datasets.get_by_id(version.reference["snapshot_id"])
        wanted = set(version.reference.get("columns", []))
        columns = [c for c in snapshot.profile.columns if c.name in wanted]
        return Profile(rows=snapshot.profile.rows, columns=columns)

    # -- describing -----------------------------------------------------------------

    def card(self, ref: str) -> ModelCard:
        """The model card of a version, generated from records."""
        from stead.registry.card import build_card

        version = self.get(ref)
        run = self._runs.get(version.run_id)
        settings = checklist_settings(self._ctx.settings)
        return build_card(
            version,
            run,
            verifications=self._runs.verifications(run.id),
            checklist=self._checklist(version, self.production(version.name)),
            history=[c for c in self.history(version.name) if c.version_id == version.id],
            primary_metric=settings.primary_for(version.task, list(run.spec.metrics)),
            generated_at=utcnow(),
        )

    def lineage(self, ref: str) -> LineageNode:
        """The lineage tree below a version: run, snapshot, feature set, code, environment."""
        version = self.get(ref)
        return model_lineage(
            version,
            self._runs.get(version.run_id),
            datasets=self._datasets,
            features=self._features,
        )

    def lineage_start(self, target: str) -> LineageNode | None:
        """A :class:`~stead.registry.lineage.LineageQuery` start for ``NAME@N``: the tree,
        or ``None`` when ``target`` names no model (so another start may try)."""
        try:
            ref = ModelRef.parse(target)
        except UsageError:
            return None
        try:
            return self.lineage(str(ref))
        except NotFound:
            if "@" in target:
                raise
            return None


def _gate_failed(version: ModelVersion, checklist: Checklist) -> GateFailed:
    lines = [f"  - {i.title} [{i.key}] ({i.status}): {i.detail}" for i in checklist.blocking]
    return GateFailed(
        f"{version.ref} cannot be promoted to production: {len(lines)} checklist item(s) do "
        "not pass:\n" + "\n".join(lines) + "\nFix them and promote again, or an admin may "
        "promote anyway with --override --reason '...' (audited, shown on the card forever)",
        details={
            "model": version.ref,
            "failing": {
                i.key: {"status": i.status, "detail": i.detail} for i in checklist.blocking
            },
        },
    )
