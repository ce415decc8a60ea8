"""What the migrations made, compared with what the code's table definitions declare."""

from __future__ import annotations

import importlib

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stead.core.db import Base
from stead.workspace import Workspace

# Every stage's table definitions: a stage's tables hold foreign keys to earlier stages'
# (runs to snapshots, versions to runs), and the workspace imports stages only on use.
TABLE_MODULES = [
    f"stead.{stage}.tables"
    for stage in ("data", "features", "training", "registry", "serving", "monitoring")
]


def schema_differences(ws: Workspace, tables: set[str]) -> list[object]:
    """The differences between the migrated database and the declared ``tables``.

    The stage's ``tables`` module must be imported first (it registers its tables on
    ``Base.metadata``). Empty when the migrations create exactly what the code declares.
    """
    for module in TABLE_MODULES:
        importlib.import_module(module)
    with ws.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    return [d for d in diffs if _tables_in(d) & tables]


def table_names(ws: Workspace) -> set[str]:
    """The tables that exist in the workspace's database."""
    with ws.store.engine.connect() as connection:
        return set(connection.dialect.get_table_names(connection))


def _tables_in(diff: object) -> set[str]:
    """Names of the tables a compare_metadata difference touches."""
    found: set[str] = set()
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else ():
            table = getattr(part, "table", None)
            name = getattr(table, "name", None) or getattr(part, "name", None)
            if isinstance(name, str):
                found.add(name)
    return found
