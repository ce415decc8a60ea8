"""Schema migrations (Alembic): every stage's tables, one linear chain of revisions.

Revisions live in ``stead/core/migrations/versions`` as ``NNNN_<stage>.py`` so that the
chain stays linear as stages add tables.

Every command opens the store, and nearly always its schema is already current: that
case reads one row and imports no Alembic (a third of a second of every command's start)
and takes no write lock. Only a schema that is behind is upgraded through Alembic, under
the store's write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from stead.core.db import lock_writers

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class MigrationOutcome:
    """What opening the store did to its schema; ``migrated`` is false when up to date."""

    before: str | None
    after: str

    @property
    def migrated(self) -> bool:
        return self.before != self.after

    @property
    def message(self) -> str:
        if self.before is None:
            return f"created the metadata schema at revision {self.after}"
        return f"migrated the metadata schema from revision {self.before} to {self.after}"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision: the chain is linear and each file is named by its revision
    (``0010_pii_at_rest.py`` is revision ``0010``; a test holds Alembic to the same)."""
    names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    assert names, "the migration chain has no head"
    return names[-1].split("_", 1)[0]


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, ``None`` for a store that has none yet."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no alembic_version table: an empty store
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> MigrationOutcome:
    """Bring the schema to ``revision`` (the newest by default) and say what changed.

    Runs under the store's write lock, so two processes opening an old workspace at
    once migrate it exactly once.
    """
    target = head_revision() if revision == "head" else revision
    if current_revision(engine) == target:
        return MigrationOutcome(before=target, after=target)
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = _config()
    with engine.begin() as connection:
        lock_writers(connection, timeout=None)
        before = MigrationContext.configure(connection).get_current_revision()
        if before != target:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
    return MigrationOutcome(before=before, after=target)
