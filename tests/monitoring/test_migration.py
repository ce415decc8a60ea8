from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stead.core.db import Base
from stead.monitoring import tables  # noqa: F401  (registers the monitoring tables)
from stead.workspace import Workspace

MONITORING_TABLES = {
    "monitor_results",
    "monitor_decisions",
    "alerts",
    "alert_deliveries",
    "retrain_triggers",
    "monitor_references",
}


def _tables_in(diff: object) -> set[str]:
    found: set[str] = set()
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item if isinstance(item, tuple) else ():
            table = getattr(part, "table", None)
            name = getattr(table, "name", None) or getattr(part, "name", None)
            if isinstance(name, str):
                found.add(name)
    return found


def test_the_0008_migration_creates_exactly_the_monitoring_tables(ws: Workspace) -> None:
    with ws.store.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diffs if _tables_in(d) & MONITORING_TABLES] == []
    with ws.store.engine.connect() as connection:
        names = set(connection.dialect.get_table_names(connection))
    assert names >= MONITORING_TABLES
