from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stead.core.db import Base
from stead.features import tables as feature_tables  # noqa: F401  (registers the tables)
from stead.training import tables as training_tables  # noqa: F401
from stead.workspace import Workspace

TRAINING_TABLES = {"feature_sets", "training_runs", "run_verifications"}


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


def test_the_0003_migration_creates_exactly_the_training_tables(ws: Workspace) -> None:
    with ws.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diffs if _tables_in(d) & TRAINING_TABLES]
    assert ours == []
