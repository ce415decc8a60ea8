from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stead.core.db import Base
from stead.serving import tables  # noqa: F401  (registers the serving tables)
from stead.workspace import Workspace

SERVING_TABLES = {"endpoints", "endpoint_deployments", "stored_responses"}


def _tables_of(diff: object) -> set[str]:
    found: set[str] = set()
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else ():
            table = getattr(part, "table", None)
            name = getattr(table, "name", None) or getattr(part, "name", None)
            if isinstance(name, str):
                found.add(name)
    return found


def test_the_0006_migration_creates_exactly_the_serving_tables(ws: Workspace) -> None:
    with ws.store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if _tables_of(d) & SERVING_TABLES] == []
    with ws.store.engine.connect() as connection:
        names = set(connection.dialect.get_table_names(connection))
    assert names >= SERVING_TABLES
