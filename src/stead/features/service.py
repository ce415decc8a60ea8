"""``ws.features``: the workspace's feature definition, its version, and recorded versions."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from sqlalchemy import select

from stead.core.clock import utcnow
from stead.core.errors import NotFound, SpecError
from stead.core.ids import new_id
from stead.core.settings import Settings
from stead.features.definition import FeatureDefinition, FeatureSet
from stead.features.settings import FeatureSettings, feature_settings
from stead.features.sources import SourceBundle, collect_sources
from stead.features.tables import FeatureSetRow

if TYPE_CHECKING:
    from stead.core.context import Context


def default_feature_name(settings: Settings) -> str:
    """A feature set is named by ``[features] name``, else ``[project] name``, else the
    workspace name."""
    project = settings.extra.get("project")
    if isinstance(project, dict) and isinstance(project.get("name"), str):
        return str(project["name"])
    return settings.workspace.name


class FeatureService:
    """Feature definitions of a workspace and the versions runs have recorded."""

    def __init__(self, context: Context) -> None:
        self._ctx = context

    def settings(self) -> FeatureSettings:
        """The workspace's ``[features]`` settings.

        Raises:
            SpecError: when ``stead.toml`` has no ``[features]`` table.
        """
        parsed = feature_settings(self._ctx.settings)
        if parsed is None:
            raise SpecError(
                "stead.toml has no [features] table; add one naming your feature function, "
                'e.g. [features] definition = "features:build" (see docs/training.md)'
            )
        return parsed

    def current(self, settings: FeatureSettings | None = None) -> FeatureDefinition:
        """The feature set as the workspace code defines it now, with its version.

        Nothing is recorded; a training run records the version it uses.

        Raises:
            SpecError: the definition's module is not in the workspace.
        """
        settings = settings or self.settings()
        path = settings.path
        sources = collect_sources(self._ctx.root, [path.module])
        return self.definition(settings, sources)

    def name_for(self, settings: FeatureSettings) -> str:
        """``[features] name``, else ``[project] name``, else the workspace name."""
        return settings.name or default_feature_name(self._ctx.settings)

    def definition(self, settings: FeatureSettings, sources: SourceBundle) -> FeatureDefinition:
        """The feature definition of ``settings`` built from ``sources`` (its closure only)."""
        name = self.name_for(settings)
        assert settings.definition is not None
        return FeatureDefinition(
            name=name,
            definition=settings.definition,
            params=dict(settings.params),
            sources=sources.subset([settings.path.module]),
            root=self._ctx.root,
        )

    def register(self, definition: FeatureDefinition) -> tuple[FeatureSet, bool]:
        """Record ``definition``'s version (once); returns it and whether it was new."""
        existing = self._find(definition.name, definition.version)
        if existing is not None:
            return existing, False
        artifact = self._ctx.artifacts.put_bytes(definition.sources.to_bytes())
        with self._ctx.store.change(
            "feature_set.register", f"feature_set:{definition.ref}"
        ) as change:
            session = change.session
            row = session.scalars(
                select(FeatureSetRow).where(
                    FeatureSetRow.name == definition.name,
                    FeatureSetRow.version == definition.version,
                )
            ).first()
            created = row is None
            if row is None:
                row = FeatureSetRow(
                    id=new_id("fs"),
                    name=definition.name,
                    version=definition.version,
                    definition=definition.definition,
                    params=definition.params,
                    sklearn_version=definition.sklearn_version,
                    source_hash=definition.source_hash,
                    sources=definition.sources.file_hashes(),
                    sources_artifact=artifact,
                    created_at=utcnow(),
                    created_by=change.actor,
                )
                session.add(row)
                change.details.update(
                    {
                        "feature_set_id": row.id,
                        "definition": row.definition,
                        "params": row.params,
                        "source_hash": row.source_hash,
                        "sources": row.sources,
                        "sources_artifact": artifact,
                        "sklearn_version": row.sklearn_version,
                    }
                )
            else:
                change.action = "feature_set.register.reused"
            entity = row.to_entity()
        return entity, created

    def _find(self, name: str, version: str) -> FeatureSet | None:
        with self._ctx.store.read() as session:
            row = session.scalars(
                select(FeatureSetRow).where(
                    FeatureSetRow.name == name, FeatureSetRow.version == version
                )
            ).first()
            return row.to_entity() if row else None

    def get(self, ref: str) -> FeatureSet:
        """A recorded feature set by ``NAME@VERSION`` (a version prefix works) or id.

        Raises:
            NotFound: naming what exists instead.
        """
        name, sep, version = ref.partition("@")
        with self._ctx.store.read() as session:
            if not sep:
                row = session.get(FeatureSetRow, ref)
                if row is not None:
                    return row.to_entity()
                rows = list(
                    session.scalars(
                        select(FeatureSetRow)
                        .where(FeatureSetRow.name == name)
                        .order_by(FeatureSetRow.created_at.desc())
                    )
                )
            else:
                rows = [
                    r
                    for r in session.scalars(
                        select(FeatureSetRow).where(FeatureSetRow.name == name)
                    )
                    if r.version.startswith(version)
                ]
            if len(rows) == 1 or (rows and not sep):
                return rows[0].to_entity()
        if len(rows) > 1:
            raise NotFound(f"feature set {ref!r} is ambiguous; give more of the version")
        raise NotFound(
            f"no recorded feature set {ref!r}; `stead features list` shows them (a version "
            "is recorded when a training run first uses it)"
        )

    def list(self, name: str | None = None) -> builtins.list[FeatureSet]:
        """Recorded feature set versions, newest first."""
        with self._ctx.store.read() as session:
            query = select(FeatureSetRow).order_by(FeatureSetRow.created_at.desc())
            if name is not None:
                query = query.where(FeatureSetRow.name == name)
            return [row.to_entity() for row in session.scalars(query)]

    def sources(self, feature_set: FeatureSet) -> SourceBundle:
        """The stored sources a recorded feature set was built from (verified)."""
        data = self._ctx.artifacts.get_bytes(
            feature_set.sources_artifact, label=f"sources of feature set {feature_set.ref}"
        )
        return SourceBundle.from_bytes(data, label=f"sources of feature set {feature_set.ref}")
