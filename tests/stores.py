"""Moving a copied workspace's metadata store from SQLite to PostgreSQL.

The shared workspaces (``tests/serving/deployed.py`` and its peers) are trained once
per session on SQLite and copied per test. A test that parametrises ``backend`` with
:data:`ON_BOTH_STORES` also runs on a copy whose rows were moved into a fresh
PostgreSQL schema: the schema is made by stead's own migrations, the rows are read and
written through stead's table definitions (so times, JSON and the audit chain's hashes
come through unchanged), and the SQLite file is removed so that nothing can read it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Integer, create_engine, text

import stead.workspace  # noqa: F401  (imports every stage, so Base.metadata has every table)
from stead.core.db import Base
from stead.core.migrate import upgrade

ON_BOTH_STORES = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)


def copy_rows(source_url: str, target_url: str) -> None:
    """Every row of every stead table from ``source_url`` into a migrated ``target_url``."""
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        upgrade(target)
        with source.connect() as read, target.begin() as write:
            for table in Base.metadata.sorted_tables:
                rows = [dict(row) for row in read.execute(table.select()).mappings()]
                if rows:
                    write.execute(table.insert(), rows)
                for column in table.primary_key.columns:
                    if isinstance(column.type, Integer) and column.autoincrement is not False:
                        # Inserted ids do not move a serial's sequence: the next insert would
                        # reuse id 1.
                        write.execute(
                            text(
                                "SELECT setval(pg_get_serial_sequence(:t, :c), "
                                f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0)'
                                " + 1, false) WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"
                            ),
                            {"t": table.name, "c": column.name},
                        )
    finally:
        source.dispose()
        target.dispose()


def use_store(root: Path, url: str) -> None:
    """Point the workspace at ``root`` to the metadata store at ``url``."""
    path = root / "stead.toml"
    settings = path.read_text()
    moved, found = re.subn(
        r"^(\[store\]\n(?:(?!^\[).*\n)*?)url = .*$",
        lambda m: f"{m.group(1)}url = {json.dumps(url)}",
        settings,
        count=1,
        flags=re.MULTILINE,
    )
    assert found == 1, "no [store] url in stead.toml"
    path.write_text(moved)


def on_backend(root: Path, backend: str, request: pytest.FixtureRequest) -> Path:
    """The copied workspace at ``root``, on ``backend`` ("sqlite" leaves it as it is)."""
    if backend == "sqlite":
        return root
    assert backend == "postgres", backend
    url = str(request.getfixturevalue("pg_schema_url"))
    database = root / ".stead" / "stead.db"
    copy_rows(f"sqlite:///{database}", url)
    use_store(root, url)
    for leftover in database.parent.glob("stead.db*"):
        leftover.unlink()
    return root
