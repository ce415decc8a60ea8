"""The Workspace: one way in to every stage.

``Workspace.open(path)`` finds ``stead.toml``, opens the metadata and artifact stores and
knows the acting identity; each lifecycle stage hangs off it as a small service
(``ws.datasets``, ...). This module is the composition root: it sits above the stages
(like the CLI), so that ``core`` never has to import a stage.

Each service is built on first use and its stage imported only then (the imports inside
the properties below are deliberate): ``stead data list`` must not pay for scikit-learn,
shap or starlette. Annotations name the services through ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Self

from stead.core.context import Context, current_actor
from stead.core.settings import (
    SETTINGS_FILE,
    STATE_DIR,
    Settings,
    load_settings,
    unknown_variables,
)

if TYPE_CHECKING:
    from stead.data.erasure import ErasureService
    from stead.data.service import DatasetService
    from stead.features.service import FeatureService
    from stead.monitoring.service import MonitorService
    from stead.predictions.feedback import FeedbackService
    from stead.predictions.lineage import RequestLineage
    from stead.predictions.retention import RetentionService
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry
    from stead.security.access import AccessPolicy
    from stead.security.tokens import TokenService
    from stead.serving.batch.scoring import ScoringService
    from stead.serving.deploy.endpoints import EndpointService
    from stead.serving.explain import ExplanationService
    from stead.starter import RoleProposal
    from stead.training.service import RunService


@dataclass(frozen=True)
class InitOutcome:
    root: Path
    created: bool
    message: str
    proposal: RoleProposal | None = None


class Workspace(Context):
    """An open stead workspace. Use :meth:`open` or :meth:`init`; close when done."""

    @cached_property
    def datasets(self) -> DatasetService:
        from stead.data.service import DatasetService

        # The PII key is the log's (hashes join); read only when something is hashed.
        return DatasetService(self, pii_key=lambda: self.predictions.pii_key())

    @cached_property
    def erasure(self) -> ErasureService:
        from stead.data.erasure import ErasureService
        from stead.predictions.erasure import LogErasure, erase_from_log

        directory = self.predictions.directory

        def erase_log(column: str, forms: set[str], entity_key: bool) -> LogErasure:
            return erase_from_log(directory, column=column, forms=forms, entity_key=entity_key)

        return ErasureService(
            self,
            datasets=self.datasets,
            pii_key=lambda: self.predictions.pii_key(),
            erase_log=erase_log,
        )

    @cached_property
    def features(self) -> FeatureService:
        from stead.features.service import FeatureService

        return FeatureService(self)

    @cached_property
    def runs(self) -> RunService:
        from stead.training.service import RunService

        return RunService(self, datasets=self.datasets, features=self.features)

    @cached_property
    def models(self) -> ModelRegistry:
        from stead.monitoring.readiness import monitoring_readiness
        from stead.registry.service import ModelRegistry

        return ModelRegistry(
            self,
            datasets=self.datasets,
            features=self.features,
            runs=self.runs,
            access=self.access,
            monitoring_readiness=monitoring_readiness,
        )

    @cached_property
    def endpoints(self) -> EndpointService:
        from stead.serving.deploy.endpoints import EndpointService

        return EndpointService(self, models=self.models, access=self.access)

    @cached_property
    def predictions(self) -> PredictionService:
        from stead.predictions.service import PredictionService
        from stead.serving.settings import serving_settings

        return PredictionService(self, settings=serving_settings(self.settings).log)

    @classmethod
    def from_settings(cls, settings: Settings, *, actor: str | None = None) -> Self:
        # Every stage-owned table is checked here, so a wrong setting fails when the
        # workspace opens rather than mid-way through a run. Imported here, like the
        # services below, so that importing this module stays cheap.
        from stead.settings_tables import check_tables, variable_tables

        check_tables(settings)
        workspace = super().from_settings(settings, actor=actor)
        workspace.notices.extend(unknown_variables(os.environ, variable_tables()))
        return workspace

    @cached_property
    def monitors(self) -> MonitorService:
        from stead.monitoring.service import MonitorService

        return MonitorService(
            self,
            datasets=self.datasets,
            runs=self.runs,
            models=self.models,
            endpoints=self.endpoints,
            predictions=self.predictions,
            feedback=self.feedback,
        )

    @cached_property
    def retention(self) -> RetentionService:
        from stead.predictions.retention import RetentionService

        return RetentionService(self, predictions=self.predictions, erasure=self.erasure)

    @cached_property
    def access(self) -> AccessPolicy:
        from stead.security.access import AccessPolicy

        return AccessPolicy(self)

    @cached_property
    def tokens(self) -> TokenService:
        from stead.security.tokens import TokenService

        return TokenService(self, access=self.access)

    @cached_property
    def feedback(self) -> FeedbackService:
        from stead.predictions.feedback import FeedbackService

        return FeedbackService(
            self,
            predictions=self.predictions,
            access=self.access,
            endpoint_owner=lambda name: self.endpoints.owner(name),
        )

    @cached_property
    def scoring(self) -> ScoringService:
        from stead.serving.batch.scoring import ScoringService

        return ScoringService(
            self, models=self.models, endpoints=self.endpoints, predictions=self.predictions
        )

    @cached_property
    def explanations(self) -> ExplanationService:
        from stead.serving.explain import ExplanationService

        return ExplanationService(datasets=self.datasets, runs=self.runs, models=self.models)

    @cached_property
    def lineage(self) -> RequestLineage:
        """The lineage of one logged prediction, by request id (``stead lineage ID``)."""
        from stead.predictions.lineage import RequestLineage

        return RequestLineage(
            models=self.models, predictions=self.predictions, feedback=self.feedback
        )

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        store_url: str | None = None,
        actor: str | None = None,
        from_data: str | os.PathLike[str] | None = None,
    ) -> InitOutcome:
        """Create a workspace at ``path``: a commented ``stead.toml``, a starter
        ``features.py``, the store and artifact directory.

        Args:
            path: the workspace directory (created if missing).
            store_url: the metadata database; SQLite under ``.stead/`` by default.
            actor: who is acting (default ``STEAD_ACTOR`` or the OS user); recorded as the
                workspace's first admin (``[auth] admins``).
            from_data: a CSV or Parquet file whose columns ``stead.toml`` and
                ``features.py`` are drafted from (roles proposed, to be confirmed).

        Running it on an existing workspace changes nothing and says so.
        """
        root = Path(path).resolve()
        settings_file = root / SETTINGS_FILE
        if settings_file.exists():
            # Validate and migrate if needed, so `init` on an old workspace is still useful.
            cls.open(root, actor=actor).close()
            return InitOutcome(root, False, f"{root} is already a stead workspace; nothing changed")
        from stead.starter import FEATURES_FILE, features_text, propose_roles, settings_text

        proposal = None
        if from_data is not None:
            from stead.data.reader import read_table

            source = Path(from_data)
            proposal = propose_roles(read_table(source, strict=False), source=source.name)
        root.mkdir(parents=True, exist_ok=True)
        state = root / STATE_DIR
        state.mkdir(exist_ok=True)
        (state / ".gitignore").write_text("*\n")
        # The creator is the first admin: with none, nobody may issue tokens, and before
        # this whoever opened a fresh workspace first (any STEAD_ACTOR) could.
        admin = actor or current_actor()
        settings_file.write_text(
            settings_text(root.name, admin=admin, store_url=store_url, proposal=proposal)
        )
        features = root / FEATURES_FILE
        if not features.exists():  # a project's own features.py is never overwritten
            features.write_text(features_text(proposal))
        from stead.core.audit_signing import create_key as create_audit_key
        from stead.registry.signing import create_key

        workspace = cls.from_settings(load_settings(root), actor=actor)
        try:
            workspace.artifacts.fs.makedirs(workspace.artifacts.root, exist_ok=True)
            # The key that signs model manifests; 0600, never overwritten.
            create_key(workspace.settings.resolve_path(workspace.settings.signing.key_path))
            # The key that signs the audit trail's head: 0600, never overwritten.
            if workspace.store.audit.key_path is not None:
                create_audit_key(workspace.store.audit.key_path)
            with workspace.store.change("workspace.create", f"workspace:{root.name}") as change:
                change.details.update(
                    {"root": str(root), "store": workspace.settings.store_url.split("?")[0]}
                )
        finally:
            workspace.close()
        message = (
            f"created stead workspace at {root}; {admin} is its admin ([auth] admins in "
            f"{SETTINGS_FILE})"
        )
        if proposal is not None:
            message += "\n" + proposal.summary()
        return InitOutcome(root, True, message, proposal)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
