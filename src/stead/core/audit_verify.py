"""Verifying the audit trail: every broken event, what is wrong with it and who could have.

Four layers, each checked independently so that one finding never hides another:

- **chain**: each event's hash over its stored fields, and its link to the event before.
  Names each edited, deleted, inserted or reordered event (a moved event is recognised
  because its hash verifies at the position it was written at);
- **checkpoint**: the signed head (:mod:`stead.core.audit_signing`) must verify with this
  machine's key and match the chain at its position, and no event may follow it unsigned;
- **head**: ``--expect-head``, a head hash kept outside the store, must still be in the chain;
- **export**: ``--against``, the append-only export file, must agree event by event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from stead.core.audit import (
    CHECKPOINT_KEY,
    GENESIS_HASH,
    HEAD_KEY,
    AuditEventRow,
    AuditLog,
    WorkspaceMetaRow,
    iter_events,
    row_hash,
)
from stead.core.audit_signing import Checkpoint
from stead.core.errors import UsageError

Kind = Literal["edited", "deleted", "inserted", "reordered", "rechained", "unsigned", "key"]
Layer = Literal["chain", "checkpoint", "head", "export"]
# How far from its stored position a moved event is looked for, beyond the obvious places.
_SEARCH = 8


@dataclass(frozen=True)
class AuditProblem:
    """One thing wrong with the trail: which event (if one), what, and which layer saw it."""

    seq: int | None
    kind: Kind
    layer: Layer
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "layer": self.layer, "message": self.message}


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of verifying the trail: ``ok``, or every problem found."""

    ok: bool
    events_checked: int
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[AuditProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def kinds(self) -> dict[int | None, set[str]]:
        """Each event's problem kinds, by sequence number (``None``: the trail as a whole)."""
        found: dict[int | None, set[str]] = {}
        for problem in self.problems:
            found.setdefault(problem.seq, set()).add(problem.kind)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problems": [p.to_dict() for p in self.problems],
            "notes": self.notes,
            "checkpoint": self.checkpoint,
        }


@dataclass
class _Entry:
    seq: int
    hash: str
    prev_hash: str
    label: str
    intact: bool  # its hash verifies at its stored position
    row: AuditEventRow | None  # kept only when it does not


def verify_trail(
    session: Session,
    *,
    audit: AuditLog,
    expect_head: str | None = None,
    against: Path | None = None,
) -> AuditVerification:
    """Check every layer (see the module docstring) and collect every problem.

    Raises:
        UsageError: ``expect_head`` is not a hash, or ``against`` cannot be read.
        SettingsError: the audit key file is not a key.
    """
    wanted_head = _parse_head(expect_head) if expect_head is not None else None
    exported = _read_export(against) if against is not None else None
    entries: list[_Entry] = []
    problems: list[AuditProblem] = []
    stored_seqs: set[int] = set()
    for row in iter_events(session):
        intact = row_hash(row) == row.hash
        label = f"#{row.seq} ({row.action} {row.subject})"
        entries.append(
            _Entry(row.seq, row.hash, row.prev_hash, label, intact, None if intact else row)
        )
        stored_seqs.add(row.seq)
        if exported is not None:
            problems.extend(_compare_export(row, exported))
    if exported is not None:
        problems.extend(_export_coverage(exported, stored_seqs, against))
    problems.extend(_chain_problems(entries))
    head = session.get(WorkspaceMetaRow, HEAD_KEY)
    problems.extend(_head_problems(entries, head.value if head else None))
    stored = session.get(WorkspaceMetaRow, CHECKPOINT_KEY)
    checkpoint = Checkpoint.from_dict(stored.value) if stored else None
    notes: list[str] = []
    problems.extend(_checkpoint_problems(entries, checkpoint, audit, notes))
    if wanted_head is not None:
        problems.extend(_expected_head_problems(entries, wanted_head, notes))
    # One finding per event, kind and layer (a gap is seen both as a gap and by a link).
    problems = list({(p.seq, p.kind, p.layer): p for p in reversed(problems)}.values())[::-1]
    problems.sort(key=lambda p: (p.seq if p.seq is not None else 1 << 62, p.layer))
    last = entries[-1] if entries else None
    return AuditVerification(
        ok=not problems,
        events_checked=len(entries),
        head_seq=last.seq if last else 0,
        head_hash=last.hash if last else GENESIS_HASH,
        problems=problems,
        notes=notes,
        checkpoint=checkpoint.to_dict() if checkpoint else None,
    )


def _chain_problems(entries: list[_Entry]) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    by_seq = {e.seq: e for e in entries}
    by_hash: dict[str, list[int]] = {}
    for e in entries:
        by_hash.setdefault(e.hash, []).append(e.seq)
    expected = 1
    for e in entries:
        if e.seq > expected:
            problems.append(_chain(expected, "deleted", f"{_span(expected, e.seq - 1)} missing"))
        expected = e.seq + 1
    # Where each event was written: its stored position, or where its hash verifies.
    written_at: dict[str, int] = {}
    flagged: set[int] = set()
    offset = 0
    for e in entries:
        if e.intact:
            written_at.setdefault(e.hash, e.seq)
            continue
        assert e.row is not None
        origin = _written_position(e, offset, written_at, by_hash)
        flagged.add(e.seq)
        if origin is not None:
            written_at[e.hash] = origin
            offset = e.seq - origin
            problems.append(
                _chain(
                    e.seq,
                    "reordered",
                    f"event {e.label} was written as #{origin}: it was moved (reordered, or "
                    "shifted by an event inserted or deleted before it)",
                )
            )
            if e.prev_hash != GENESIS_HASH and e.prev_hash not in by_hash:
                problems.append(
                    _chain(origin - 1, "deleted", f"the event written as #{origin - 1} is missing")
                )
        elif len(by_hash[e.hash]) > 1:
            others = ", ".join(f"#{s}" for s in by_hash[e.hash] if s != e.seq)
            problems.append(
                _chain(
                    e.seq,
                    "inserted",
                    f"event {e.label} was inserted: it carries the hash of {others} over "
                    "different content",
                )
            )
        else:
            problems.append(
                _chain(
                    e.seq,
                    "edited",
                    f"event {e.label} was edited: its content no longer matches its hash",
                )
            )
    for e_hash, origin in written_at.items():
        # An intact event sitting where a moved one was written was put there later.
        occupant = by_seq.get(origin)
        if occupant and occupant.hash != e_hash and occupant.seq not in flagged:
            flagged.add(occupant.seq)
            problems.append(
                _chain(
                    occupant.seq,
                    "inserted",
                    f"event {occupant.label} was inserted where another event was written",
                )
            )
    for e in entries:
        if e.seq in flagged:
            continue
        before = by_seq.get(e.seq - 1)
        if e.seq == 1:
            if e.prev_hash != GENESIS_HASH:
                problems.append(_chain(1, "edited", "event #1 does not start the chain"))
        elif before is None or before.seq in flagged:
            continue  # reported as the deletion or the move of the event before
        elif e.prev_hash != before.hash:
            flagged.add(before.seq)
            problems.append(
                _chain(
                    before.seq,
                    "edited",
                    f"event {before.label} was replaced or re-hashed: event #{e.seq} was "
                    f"chained to a different event #{before.seq}",
                )
            )
    return problems


def _written_position(
    e: _Entry, offset: int, written_at: dict[str, int], by_hash: dict[str, list[int]]
) -> int | None:
    assert e.row is not None
    candidates = [e.seq - offset] if offset else []
    if e.prev_hash == GENESIS_HASH:
        candidates.append(1)
    if e.prev_hash in written_at:
        candidates.append(written_at[e.prev_hash] + 1)
    candidates += [s + 1 for s in by_hash.get(e.prev_hash, ())]
    candidates += [e.seq + d for step in range(1, _SEARCH + 1) for d in (-step, step)]
    seen: set[int] = set()
    for candidate in candidates:
        if candidate < 1 or candidate == e.seq or candidate in seen:
            continue
        seen.add(candidate)
        if row_hash(e.row, seq=candidate) == e.hash:
            return candidate
    return None


def _head_problems(entries: list[_Entry], head: dict[str, Any] | None) -> list[AuditProblem]:
    if head is None:
        if entries:
            return [_chain(None, "edited", "the recorded head of the chain was removed")]
        return []
    head_seq, head_hash = int(head["seq"]), str(head["hash"])
    last_seq = entries[-1].seq if entries else 0
    if last_seq < head_seq:
        return [
            _chain(
                last_seq + 1,
                "deleted",
                f"{_span(last_seq + 1, head_seq)} missing from the end (the recorded head is "
                f"#{head_seq})",
            )
        ]
    if last_seq > head_seq:
        return [
            _chain(
                head_seq + 1,
                "inserted",
                f"{_span(head_seq + 1, last_seq)} added after the recorded head #{head_seq}",
            )
        ]
    if entries and all(e.hash != head_hash for e in entries):
        # (A head event that was only moved is reported as moved.)
        return [_chain(last_seq, "edited", f"event #{last_seq} is not the recorded head")]
    return []


def _checkpoint_problems(
    entries: list[_Entry], checkpoint: Checkpoint | None, audit: AuditLog, notes: list[str]
) -> list[AuditProblem]:
    if audit.key_path is None:
        notes.append("the trail is not signed: this store has no audit key configured")
        return []
    key = audit.key()
    last_seq = entries[-1].seq if entries else 0
    if checkpoint is None:
        if not entries:
            return []
        if key is None:
            notes.append(
                "the trail was never signed (a workspace from before signed checkpoints); "
                "the next change signs it"
            )
            return []
        return [
            _signed(
                None,
                "unsigned",
                f"the trail has {len(entries)} events but no signed checkpoint: it was removed "
                "(an admin can re-sign with `stead audit checkpoint --reason ...`)",
            )
        ]
    where = f"the signed checkpoint (event #{checkpoint.seq}, key {checkpoint.key_id})"
    if key is None:
        return [
            _signed(
                None,
                "key",
                f"{where} cannot be checked: the audit key {audit.key_path} ([audit] "
                "key_path) is missing on this machine",
            )
        ]
    if checkpoint.key_id != key.key_id:
        return [
            _signed(
                None,
                "key",
                f"{where} was signed by another key; this machine's key ({key.path}) is "
                f"{key.key_id}",
            )
        ]
    if not key.signed(checkpoint):
        return [
            _signed(
                checkpoint.seq,
                "rechained",
                f"{where} was forged or altered: its signature does not verify with the audit key",
            )
        ]
    problems: list[AuditProblem] = []
    signed = next((e for e in entries if e.seq == checkpoint.seq), None)
    if signed is None:
        problems.append(
            _signed(
                checkpoint.seq,
                "deleted",
                f"event #{checkpoint.seq} was signed by {where} but is no longer in the trail",
            )
        )
    elif signed.hash != checkpoint.hash and (
        moved := next((e for e in entries if e.hash == checkpoint.hash), None)
    ):
        problems.append(
            _signed(
                checkpoint.seq,
                "reordered",
                f"the event signed as #{checkpoint.seq} by {where} is now #{moved.seq}",
            )
        )
    elif signed.hash != checkpoint.hash:
        problems.append(
            _signed(
                checkpoint.seq,
                "rechained",
                f"the trail up to event #{checkpoint.seq} was rewritten and re-chained: its "
                f"hash there is {signed.hash[:16]}…, {where} says {checkpoint.hash[:16]}…; "
                "compare with the export (--against) to see which events changed",
            )
        )
    unsigned = last_seq - checkpoint.seq
    if unsigned >= audit.checkpoint_every:
        problems.append(
            _signed(
                checkpoint.seq + 1,
                "inserted",
                f"{_span(checkpoint.seq + 1, last_seq)} after the last signed checkpoint "
                f"(#{checkpoint.seq}) but never signed: appended without the audit key",
            )
        )
    elif unsigned > 0:
        notes.append(
            f"{_span(checkpoint.seq + 1, last_seq)} not signed yet "
            f"([audit] checkpoint_every = {audit.checkpoint_every})"
        )
    return problems


def _expected_head_problems(
    entries: list[_Entry], wanted: str, notes: list[str]
) -> list[AuditProblem]:
    match = next((e for e in entries if e.hash == wanted), None)
    if match is None:
        return [
            AuditProblem(
                None,
                "rechained",
                "head",
                f"the head you kept ({wanted[:16]}…) is not in the trail: the events up to "
                "it were rewritten, or removed",
            )
        ]
    since = entries[-1].seq - match.seq
    notes.append(f"the head you kept is event #{match.seq}; {since} events were added since")
    return []


_COMPARED = ("id", "ts", "actor", "action", "subject", "details", "reason", "prev_hash", "hash")


def _compare_export(row: AuditEventRow, exported: dict[int, dict[str, Any]]) -> list[AuditProblem]:
    copy = exported.get(row.seq)
    if copy is None:
        return []
    stored = row.to_entity().to_dict()
    changed = [name for name in _COMPARED if stored.get(name) != copy.get(name)]
    if not changed:
        return []
    shown = "; ".join(
        f"{name} is {_short(stored.get(name))}, the export has {_short(copy.get(name))}"
        for name in changed
        if name not in ("hash", "prev_hash")
    )
    return [
        AuditProblem(
            row.seq,
            "edited",
            "export",
            f"event #{row.seq} ({row.action} {row.subject}) differs from the export: "
            f"{shown or 'its hashes differ'}",
        )
    ]


def _export_coverage(
    exported: dict[int, dict[str, Any]], stored: set[int], path: Path | None
) -> list[AuditProblem]:
    problems = [
        AuditProblem(
            seq, "deleted", "export", f"event #{seq} is in the export but not in the store"
        )
        for seq in sorted(exported.keys() - stored)
    ]
    first = min(exported) if exported else None
    problems += [
        AuditProblem(
            seq,
            "inserted",
            "export",
            f"event #{seq} is in the store but not in the export {path}: it was written "
            "without stead (or stead stopped between committing and exporting it)",
        )
        for seq in sorted(stored)
        if first is not None and seq > first and seq not in exported
    ]
    return problems


def _read_export(path: Path) -> dict[int, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--against {path}: cannot read the export: {exc}") from exc
    events: dict[int, dict[str, Any]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            seq = int(event["seq"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"--against {path}: line {number} is not an audit event ({exc}); the export "
                "holds one JSON object per line, as `[audit] export` writes them"
            ) from exc
        if seq in events and events[seq] != event:
            raise UsageError(f"--against {path}: event #{seq} appears twice, differently")
        events[seq] = event
    return events


def _parse_head(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise UsageError(
            f"--expect-head {text!r} is not a head hash: expected the 64 hex digits "
            "`stead audit head` printed"
        )
    return value


def _chain(seq: int | None, kind: Kind, message: str) -> AuditProblem:
    return AuditProblem(seq, kind, "chain", message)


def _signed(seq: int | None, kind: Kind, message: str) -> AuditProblem:
    return AuditProblem(seq, kind, "checkpoint", message)


def _span(first: int, last: int) -> str:
    return f"event #{first} is" if first == last else f"events #{first} to #{last} are"


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
