from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stead.core.db import Base
from stead.registry import tables  # noqa: F401  (registers the registry's tables)
from stead.workspace import Workspace

REGISTRY_TABLES = {"model_versions", "model_stage_changes", "model_evidence"}


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item if isinstance(item, tuple) else ():
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if name in REGISTRY_TABLES:
            return str(name)
    return None


def test_the_0005_migration_creates_exactly_the_registry_tables(ws: Workspace) -> None:
    with ws.store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diffs = compare_metadata(context, Base.metadata)
    ours = [d for d in diffs if _table_of(d) in REGISTRY_TABLES]
    assert ours == []
