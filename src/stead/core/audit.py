"""The audit trail: an append-only, hash-chained log of every change of state.

Each event's hash covers its sequence number, time, actor, action, subject, details,
reason and the previous event's hash, so editing, deleting, inserting or reordering any
event breaks the chain at that point. Every field is first canonicalised to what the store
gives back (:mod:`stead.core.audit_canonical`), so the hash is over exactly what is stored.
The chain head (last sequence and hash) is kept in ``workspace_meta`` in the same
transaction, so cutting events off the end is caught too, and the head is signed with a
key the database does not hold (:mod:`stead.core.audit_signing`), so re-chaining is
caught as well. Events are only ever appended by :meth:`MetadataStore.change` (through
:class:`AuditLog`), inside the transaction that makes the change they describe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from stead.core.audit_canonical import canonical_event
from stead.core.audit_signing import (
    AuditKey,
    Checkpoint,
    create_key,
    load_key,
    missing_key_error,
    wrong_key_error,
)
from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.core.errors import IntegrityError

GENESIS_HASH = "0" * 64
HEAD_KEY = "audit_head"
CHECKPOINT_KEY = "audit_checkpoint"
# Where a write session keeps the events it appended, for the checkpoint and the export.
_APPENDED = "stead.audit.appended"
log = logging.getLogger("stead")


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
            "ts": self.ts.isoformat(timespec="microseconds"),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "reason": self.reason,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
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
    """SHA-256 of the event's canonical JSON (sorted keys, no spaces, ASCII escapes)."""
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


def row_hash(row: AuditEventRow, *, seq: int | None = None) -> str:
    """The hash ``row`` should carry, from its stored fields (at ``seq`` if given)."""
    return event_hash(
        seq=row.seq if seq is None else seq,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        details=dict(row.details or {}),
        reason=row.reason,
        prev_hash=row.prev_hash,
    )


def append_event(
    session: Session,
    *,
    event_id: str,
    ts: datetime,
    actor: object,
    action: object,
    subject: object,
    details: dict[str, Any] | None,
    reason: object,
) -> AuditEvent:
    """Append one event. The caller holds the store's write lock (see ``change``).

    Every field is canonicalised first, so the hash is over exactly what is stored.

    Raises:
        UsageError: a field cannot be stored (empty, or longer than its column).
    """
    event = canonical_event(
        ts=ts, actor=actor, action=action, subject=subject, details=details, reason=reason
    )
    head = session.get(WorkspaceMetaRow, HEAD_KEY)
    seq, prev = (head.value["seq"], head.value["hash"]) if head else (0, GENESIS_HASH)
    digest = event_hash(
        seq=seq + 1,
        ts=event.ts,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        details=event.details,
        reason=event.reason,
        prev_hash=prev,
    )
    row = AuditEventRow(
        seq=seq + 1,
        id=event_id,
        ts=event.ts,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        details=event.details,
        reason=event.reason,
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
    entity = row.to_entity()
    session.info.setdefault(_APPENDED, []).append(entity)
    return entity


class AuditLog:
    """Seals each change's events: signs the head and copies events to the export.

    Args:
        key_path: the checkpoint key file; ``None`` leaves the trail unsigned.
        checkpoint_every: sign the head once this many events have been appended since
            the last checkpoint (1: at every change).
        export_path: an append-only JSON-lines file that receives every committed event.
    """

    def __init__(
        self,
        *,
        key_path: Path | None = None,
        checkpoint_every: int = 1,
        export_path: Path | None = None,
    ) -> None:
        self.key_path = key_path
        self.checkpoint_every = checkpoint_every
        self.export_path = export_path
        self._key: AuditKey | None = None

    def key(self) -> AuditKey | None:
        """This machine's audit key (read once), or ``None`` when its file is missing."""
        if self._key is None and self.key_path is not None:
            self._key = load_key(self.key_path)
        return self._key

    def seal(self, session: Session, *, resign: bool = False) -> None:
        """Sign the new head when a checkpoint is due; called just before commit.

        The previous checkpoint must still hold (its signature verifies and the event it
        signed is unchanged), or signing now would vouch for a rewritten trail.

        Raises:
            IntegrityError: the key is missing or not the one the trail is signed with, or
                the trail was rewritten since the last checkpoint (unless ``resign``).
        """
        if self.key_path is None:
            return
        head = session.get(WorkspaceMetaRow, HEAD_KEY)
        if head is None:
            return
        stored = session.get(WorkspaceMetaRow, CHECKPOINT_KEY)
        checkpoint = Checkpoint.from_dict(stored.value) if stored else None
        head_seq = int(head.value["seq"])
        appended = session.info.get(_APPENDED, [])
        signed_seq = checkpoint.seq if checkpoint else 0
        unsigned = (appended[0].seq if appended else head_seq + 1) - 1 - signed_seq
        key = self.key()
        if key is None:
            if checkpoint is not None and not resign:
                raise missing_key_error(self.key_path, checkpoint.key_id)
            # No key and no checkpoint: a trail from before signing. Sign it from now on.
            create_key(self.key_path)
            key = self.key()
            assert key is not None
        elif resign:
            pass
        elif checkpoint is not None:
            self._check_previous(session, key, checkpoint)
        elif unsigned > 0:
            # The key exists, so whoever made it signed the trail: the checkpoint was removed.
            raise _refused(f"the audit trail has {unsigned} events but no signed checkpoint")
        if not resign and checkpoint is not None and unsigned >= self.checkpoint_every:
            raise _refused(
                f"the audit trail has events #{signed_seq + 1} to #{signed_seq + unsigned} "
                f"after its last signed checkpoint (#{signed_seq}) that stead did not sign: "
                "they were appended without the audit key"
            )
        due = checkpoint is None or resign or head_seq - checkpoint.seq >= self.checkpoint_every
        if not due:
            return
        signed = key.sign(head_seq, str(head.value["hash"])).to_dict()
        if stored is None:
            session.add(WorkspaceMetaRow(key=CHECKPOINT_KEY, value=signed))
        else:
            stored.value = signed
        session.flush()

    def _check_previous(self, session: Session, key: AuditKey, checkpoint: Checkpoint) -> None:
        if checkpoint.key_id != key.key_id:
            raise wrong_key_error(key, checkpoint.key_id)
        row = session.get(AuditEventRow, checkpoint.seq)
        if not key.signed(checkpoint) or row is None or row.hash != checkpoint.hash:
            raise _refused(
                f"the audit trail no longer matches its signed checkpoint at event "
                f"#{checkpoint.seq}: it was rewritten by someone without the audit key"
            )

    def export(self, session: Session) -> None:
        """Append the committed events of ``session`` to the export file (if any)."""
        events: list[AuditEvent] = session.info.pop(_APPENDED, [])
        if self.export_path is None or not events:
            return
        lines = "".join(
            json.dumps(e.to_dict(), sort_keys=True, separators=(",", ":")) + "\n" for e in events
        )
        try:
            self.export_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.export_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, lines.encode())  # one write: whole lines, even across processes
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            # The change is committed; `stead audit verify --against` will name the gap.
            log.exception("could not append audit events to the export %s", self.export_path)

    def discard(self, session: Session) -> None:
        session.info.pop(_APPENDED, None)


def _refused(problem: str) -> IntegrityError:
    return IntegrityError(
        f"{problem}. Signing now would vouch for it, so changes are refused: run `stead "
        "audit verify` to see what changed, then an admin re-signs the trail with `stead "
        "audit checkpoint --reason ...`"
    )


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
