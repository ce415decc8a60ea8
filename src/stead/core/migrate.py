"""Schema migrations (Alembic): every stage's tables, one linear chain of revisions.

Revisions live in ``stead/core/migrations/versions`` as ``NNNN_<stage>.py`` so that the
chain stays linear as stages add tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from stead.core.db import lock_writers

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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migration chain has no head"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> MigrationOutcome:
    """Bring the schema to ``revision`` (the newest by default) and say what changed.

    Runs under the store's write lock, so two processes opening an old workspace at
    once migrate it exactly once.
    """
    config = _config()
    target = head_revision() if revision == "head" else revision
    with engine.begin() as connection:
        lock_writers(connection, timeout=None)
        before = MigrationContext.configure(connection).get_current_revision()
        if before != target:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
    return MigrationOutcome(before=before, after=target)
