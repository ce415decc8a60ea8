"""``ws.audit``: the trail as its readers see it: query it, verify it, sign its head.

Apart from :mod:`stead.core.audit` (the chain: rows, hashes, appending, sealing), which
both this module and :mod:`stead.core.audit_verify` build on, so neither imports the
other's user.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from stead.core.audit import (
    CHECKPOINT_KEY,
    GENESIS_HASH,
    HEAD_KEY,
    AuditEvent,
    AuditEventRow,
    AuditLog,
    WorkspaceMetaRow,
)
from stead.core.audit_signing import Checkpoint
from stead.core.audit_verify import AuditVerification, verify_trail


class AuditTrail:
    """``ws.audit``: query, verify and sign the trail (appending happens only via changes)."""

    def __init__(self, store: _Store) -> None:
        self._store = store

    def events(
        self,
        *,
        subject: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Matching events, oldest first; with ``limit``, the newest ``limit`` of them."""
        query = select(AuditEventRow)
        if subject:
            query = query.where(AuditEventRow.subject.startswith(subject, autoescape=True))
        if actor:
            query = query.where(AuditEventRow.actor == actor)
        if action:
            query = query.where(AuditEventRow.action.startswith(action, autoescape=True))
        if since:
            query = query.where(AuditEventRow.ts >= since)
        query = query.order_by(AuditEventRow.seq.desc())
        if limit:
            query = query.limit(limit)
        with self._store.read() as session:
            rows = [row.to_entity() for row in session.scalars(query)]
        return rows[::-1]

    def head(self) -> dict[str, Any]:
        """The recorded head ``{"seq", "hash"}`` and its signed checkpoint, to keep elsewhere."""
        with self._store.read() as session:
            head = session.get(WorkspaceMetaRow, HEAD_KEY)
            stored = session.get(WorkspaceMetaRow, CHECKPOINT_KEY)
            checkpoint = Checkpoint.from_dict(stored.value) if stored else None
        value: dict[str, Any] = dict(head.value) if head else {"seq": 0, "hash": GENESIS_HASH}
        return {
            "seq": int(value["seq"]),
            "hash": str(value["hash"]),
            "checkpoint": checkpoint.to_dict() if checkpoint else None,
        }

    def verify(
        self, *, expect_head: str | None = None, against: Path | None = None
    ) -> AuditVerification:
        """Walk the whole chain and report every broken event, not only the first.

        Args:
            expect_head: a head hash kept outside the store; it must still be in the chain.
            against: an export file (``[audit] export``) to compare every event with.
        """
        with self._store.read() as session:
            return verify_trail(
                session,
                audit=self._store.audit,
                expect_head=expect_head,
                against=against,
            )

    def checkpoint(self, *, reason: str) -> AuditEvent:
        """Sign the current head now, even over events stead did not sign (an admin's call).

        The re-signing is itself an audited change (``audit.checkpoint``) naming the
        checkpoint it replaces.
        """
        with self._store.read() as session:
            stored = session.get(WorkspaceMetaRow, CHECKPOINT_KEY)
            previous = dict(stored.value) if stored else None
        with self._store.change("audit.checkpoint", "audit:trail", reason=reason) as change:
            change.resign = True
            change.details["previous_checkpoint"] = previous
        assert change.event is not None
        return change.event


class _Store(Protocol):
    audit: AuditLog

    def read(self) -> AbstractContextManager[Session]: ...

    def change(
        self, action: str, subject: str, *, reason: str | None = None
    ) -> AbstractContextManager[Any]: ...
