"""The audit trail: an append-only, hash-chained log of every change of state.

Each event's hash covers its sequence number, time, actor, action, subject, details,
reason and the previous event's hash, so editing, deleting, inserting or reordering any
event breaks the chain at that point. The chain head (last sequence and hash) is also kept
in ``workspace_meta`` in the same transaction, so cutting events off the end is caught too.
Events are only ever appended by :meth:`MetadataStore.change`, inside the transaction that
makes the change they describe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row

GENESIS_HASH = "0" * 64
HEAD_KEY = "audit_head"


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(400), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def to_entity(self) -> AuditEvent:
        return entity_from_row(AuditEvent, self, details=dict(self.details or {}))


class WorkspaceMetaRow(Base):
    """Small key/value facts about the workspace itself (audit head, creation)."""

    __tablename__ = "workspace_meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    id: str
    ts: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    reason: str | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "reason": self.reason,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of walking the chain: ``ok``, or the first bad event and why."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS_HASH
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "head_hash": self.head_hash,
        }


def event_hash(
    *,
    seq: int,
    ts: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    reason: str | None,
    prev_hash: str,
) -> str:
    body = {
        "seq": seq,
        "ts": ts.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def append_event(
    session: Session,
    *,
    event_id: str,
    ts: datetime,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    reason: str | None,
) -> AuditEvent:
    """Append one event. The caller holds the store's write lock (see ``change``)."""
    head = session.get(WorkspaceMetaRow, HEAD_KEY)
    seq, prev = (head.value["seq"], head.value["hash"]) if head else (0, GENESIS_HASH)
    # Round-trip details through JSON so the hash is computed on what is stored.
    stored = json.loads(json.dumps(details, sort_keys=True, default=str))
    digest = event_hash(
        seq=seq + 1,
        ts=ts,
        actor=actor,
        action=action,
        subject=subject,
        details=stored,
        reason=reason,
        prev_hash=prev,
    )
    row = AuditEventRow(
        seq=seq + 1,
        id=event_id,
        ts=ts,
        actor=actor,
        action=action,
        subject=subject,
        details=stored,
        reason=reason,
        prev_hash=prev,
        hash=digest,
    )
    session.add(row)
    new_head = {"seq": seq + 1, "hash": digest}
    if head is None:
        session.add(WorkspaceMetaRow(key=HEAD_KEY, value=new_head))
    else:
        head.value = new_head
    session.flush()
    return row.to_entity()


def iter_events(session: Session, *, batch: int = 2000) -> Iterator[AuditEventRow]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.seq > last)
            .order_by(AuditEventRow.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> AuditVerification:
    """Walk every event in order and report the first one that breaks the chain."""
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for row in iter_events(session):
        if row.seq != expected_seq:
            missing = "deleted" if row.seq > expected_seq else "duplicated"
            return AuditVerification(
                ok=False,
                events_checked=checked,
                first_bad_seq=expected_seq,
                problem=f"event #{expected_seq} is missing ({missing}); next stored is #{row.seq}",
            )
        if row.prev_hash != prev:
            return AuditVerification(
                ok=False,
                events_checked=checked,
                first_bad_seq=row.seq,
                problem=f"event #{row.seq} does not follow event #{row.seq - 1} "
                "(an event was inserted, deleted or reordered before it)",
            )
        digest = event_hash(
            seq=row.seq,
            ts=row.ts,
            actor=row.actor,
            action=row.action,
            subject=row.subject,
            details=dict(row.details or {}),
            reason=row.reason,
            prev_hash=row.prev_hash,
        )
        if digest != row.hash:
            return AuditVerification(
                ok=False,
                events_checked=checked,
                first_bad_seq=row.seq,
                problem=f"event #{row.seq} ({row.action} {row.subject}) was edited: "
                "its content no longer matches its hash",
            )
        prev = row.hash
        expected_seq += 1
        checked += 1
    head = session.get(WorkspaceMetaRow, HEAD_KEY)
    head_seq = head.value["seq"] if head else 0
    if head_seq != checked or (head and head.value["hash"] != prev):
        return AuditVerification(
            ok=False,
            events_checked=checked,
            first_bad_seq=checked + 1,
            problem=f"the chain ends at event #{checked} but the recorded head is "
            f"#{head_seq}: events were deleted from the end",
        )
    return AuditVerification(ok=True, events_checked=checked, head_hash=prev)


class AuditTrail:
    """``ws.audit``: query and verify the trail (appending happens only via changes)."""

    def __init__(self, store: _Readable) -> None:
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

    def verify(self) -> AuditVerification:
        """Walk the whole chain; ``ok`` is false at the first edited or missing event."""
        with self._store.read() as session:
            return verify_chain(session)


class _Readable(Protocol):
    def read(self) -> AbstractContextManager[Session]: ...
