"""The migrations build exactly the schema the code's table definitions declare, on
SQLite and on PostgreSQL: every table, column, type, index and foreign key, not only
the tables of the stage a test happens to cover."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import stead
from stead.core.db import Base
from stead.workspace import Workspace

# Every module that declares tables. The workspace imports a stage only on use, so they
# are imported here; a stage's tables hold foreign keys to earlier stages' tables.
TABLE_MODULES = [
    "stead.core.audit",
    "stead.data.tables",
    "stead.features.tables",
    "stead.training.tables",
    "stead.registry.tables",
    "stead.security.tokens",
    "stead.serving.deploy.tables",
    "stead.predictions.tables",
    "stead.monitoring.tables",
]


def test_every_module_that_declares_a_table_is_compared() -> None:
    package = Path(stead.__file__).parent
    declaring = {
        "stead." + ".".join(path.relative_to(package).with_suffix("").parts)
        for path in package.rglob("*.py")
        if "__tablename__" in path.read_text(encoding="utf-8")
    }
    assert declaring == set(TABLE_MODULES)


def test_the_migrated_database_is_exactly_what_the_table_definitions_declare(
    any_ws: Workspace,
) -> None:
    for module in TABLE_MODULES:
        importlib.import_module(module)
    with any_ws.store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = set(connection.dialect.get_table_names(connection)) - {"alembic_version"}
    assert differences == []
    assert tables == set(Base.metadata.tables)
