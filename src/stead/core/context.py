"""The context every stage service is built on: settings, stores and the acting identity."""

from __future__ import annotations

import getpass
import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Self

from stead.core.artifacts import ArtifactStore
from stead.core.audit_settings import audit_log
from stead.core.audit_trail import AuditTrail
from stead.core.errors import SettingsError
from stead.core.migrate import upgrade
from stead.core.settings import Settings, find_root, load_settings
from stead.core.store import MetadataStore

ACTOR_ENV = "STEAD_ACTOR"
log = logging.getLogger("stead")


def current_actor() -> str:
    """``STEAD_ACTOR`` when set, else the operating-system user."""
    actor = os.environ.get(ACTOR_ENV, "").strip()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


@dataclass
class Context:
    """An open workspace's shared parts. Stage services take one of these.

    ``notices`` collects what opening did that a user should hear about (a migration).
    """

    settings: Settings
    store: MetadataStore
    artifacts: ArtifactStore
    actor: str
    notices: list[str] = field(default_factory=list)

    @cached_property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.store)

    @property
    def root(self) -> Path:
        return self.settings.root

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, actor: str | None = None) -> Self:
        """Open the workspace at or above ``path`` (default: the current directory).

        Creates or migrates the metadata schema when it is missing or older than this
        version of stead, once, and says so in ``notices``.

        Raises:
            SettingsError: no ``stead.toml`` was found, or a setting is wrong.
        """
        start = Path(path) if path is not None else None
        if start is not None and not start.exists():
            raise SettingsError(f"workspace directory {start} does not exist")
        settings = load_settings(find_root(start))
        return cls.from_settings(settings, actor=actor)

    @classmethod
    def from_settings(cls, settings: Settings, *, actor: str | None = None) -> Self:
        who = actor or current_actor()
        if settings.store_url.startswith("sqlite:///"):
            settings.state_dir.mkdir(parents=True, exist_ok=True)
        store = MetadataStore(
            settings.store_url,
            actor=who,
            lock_timeout=settings.store.lock_timeout,
            audit=audit_log(settings),
        )
        outcome = upgrade(store.engine)
        context = cls(
            settings=settings,
            store=store,
            artifacts=ArtifactStore(settings.artifacts_url),
            actor=who,
            notices=[outcome.message] if outcome.migrated else [],
        )
        context.artifacts.on_integrity_error = context._record_integrity_failure
        context.artifacts.clean_temporary()
        return context

    def _record_integrity_failure(self, digest: str, message: str) -> None:
        # Never let the audit write hide the integrity error the caller is about to get.
        try:
            with self.store.change("artifact.integrity_failure", f"artifact:{digest}") as change:
                change.details["message"] = message
        except Exception:
            log.exception("could not record the integrity failure of artifact %s", digest)

    def close(self) -> None:
        self.store.dispose()
