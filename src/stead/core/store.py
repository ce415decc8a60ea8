"""The metadata store: one SQLAlchemy database (SQLite by default, PostgreSQL at scale).

Reads use :meth:`MetadataStore.read`. Every change of state uses
:meth:`MetadataStore.change`, the one write path: it takes the store-wide write lock,
lets the caller write its rows, then appends the audit event describing the change (through
:class:`AuditLog`, which canonicalises it, signs the new head and exports it) and commits
both together. A change without its audit event cannot be committed, and an
audit event cannot exist for a change that rolled back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from stead.core.audit import AuditEvent, AuditLog, append_event
from stead.core.clock import utcnow
from stead.core.db import create_engines, is_sqlite, lock_writers, normalise_url
from stead.core.errors import Conflict
from stead.core.ids import new_id


@dataclass
class Change:
    """An open change: write rows with ``session``; say what changed before it commits."""

    session: Session
    action: str
    subject: str
    actor: str
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    event: AuditEvent | None = None
    # Sign the head even over events stead did not sign (``stead audit checkpoint``).
    resign: bool = False


class MetadataStore:
    """The metadata database behind a workspace.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        actor: the identity recorded on every change made through this store.
        lock_timeout: seconds a writer waits for another before raising ``Conflict``.
        audit: how events are signed and exported (default: unsigned, not exported).
    """

    def __init__(
        self,
        url: str,
        *,
        actor: str,
        lock_timeout: float = 30.0,
        audit: AuditLog | None = None,
    ) -> None:
        self.url = normalise_url(url)
        self.audit = audit or AuditLog()
        self.actor = actor
        self.lock_timeout = lock_timeout
        self._read_engine, self._write_engine = create_engines(self.url, lock_timeout=lock_timeout)
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        return self._write_engine

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; it never waits for writers."""
        with self._read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def change(
        self,
        action: str,
        subject: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> Iterator[Change]:
        """Make one audited change of state.

        The body writes its rows through ``change.session`` and may refine
        ``change.subject`` and ``change.details``; on a clean exit the audit event is
        appended and everything commits at once. Any exception rolls back both.

        Raises:
            Conflict: when another writer holds the lock longer than ``lock_timeout``.
        """
        session = self._write_sessions()
        try:
            with session.begin():
                lock_writers(session.connection(), timeout=self.lock_timeout)
                change = Change(
                    session=session,
                    action=action,
                    subject=subject,
                    actor=actor or self.actor,
                    reason=reason,
                )
                yield change
                change.event = append_event(
                    session,
                    event_id=new_id("ev"),
                    ts=utcnow(),
                    actor=change.actor,
                    action=change.action,
                    subject=change.subject,
                    details=change.details,
                    reason=change.reason,
                )
                self.audit.seal(session, resign=change.resign)
            self.audit.export(session)
        except OperationalError as exc:
            if _is_lock_timeout(exc):
                raise Conflict(
                    f"another stead process held the metadata store's write lock for more "
                    f"than {self.lock_timeout:g} s; retry, or raise [store] lock_timeout"
                ) from exc
            raise
        finally:
            self.audit.discard(session)
            session.close()

    def dispose(self) -> None:
        self._read_engine.dispose()
        self._write_engine.dispose()


def _is_lock_timeout(exc: OperationalError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return "locked" in str(orig) or "busy" in str(orig)
    return "lock timeout" in str(orig) or "LockNotAvailable" in type(orig).__name__
