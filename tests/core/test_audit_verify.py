"""`ws.audit.verify`: every kind of tampering, every broken event, on SQLite and PostgreSQL.

The first tests are naive tampering (the chain alone catches it); then an attacker who can
write the database and recomputes every hash (the signed checkpoint catches it); then one
who also holds the key (only a head kept elsewhere, or the export, catches it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from stead.core.audit import AuditEventRow, event_hash
from stead.core.audit_signing import AuditKey, load_key
from stead.core.errors import IntegrityError
from stead.workspace import Workspace


def _tamper(ws: Workspace, sql: str, **params: object) -> None:
    with ws.store.engine.begin() as conn:
        conn.execute(text(sql), params)


def _rows(ws: Workspace) -> list[AuditEventRow]:
    with ws.store.read() as session:
        return list(session.scalars(select(AuditEventRow).order_by(AuditEventRow.seq)))


def _step(ws: Workspace, i: int) -> None:
    with ws.store.change("dataset.snapshot", f"dataset:a@{i}", reason=f"step {i}") as change:
        change.details["rows"] = i


@pytest.fixture
def chained(any_ws: Workspace) -> Workspace:
    for i in range(1, 6):
        _step(any_ws, i)
    return any_ws  # events 1..6 (workspace.create + 5 changes)


def _kinds(ws: Workspace, **kwargs: Any) -> dict[int | None, set[str]]:
    result = ws.audit.verify(**kwargs)
    assert not result.ok
    return result.kinds()


def test_an_untouched_trail_verifies_with_its_checkpoint(chained: Workspace) -> None:
    result = chained.audit.verify()
    assert result.ok and result.problems == [] and result.events_checked == 6
    assert result.checkpoint is not None and result.checkpoint["seq"] == 6


def test_every_broken_event_is_reported_not_only_the_first(chained: Workspace) -> None:
    _tamper(chained, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    _tamper(chained, "DELETE FROM audit_events WHERE seq = 4")
    _tamper(chained, "UPDATE audit_events SET reason = 'cover-up' WHERE seq = 5")
    assert _kinds(chained) == {2: {"edited"}, 4: {"deleted"}, 5: {"edited"}}


def test_an_edited_event_is_named(chained: Workspace) -> None:
    _tamper(chained, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    result = chained.audit.verify()
    assert result.kinds() == {3: {"edited"}}
    assert "event #3 (dataset.snapshot dataset:a@2) was edited" in result.problems[0].message


def test_an_event_edited_and_rehashed_alone_is_named(chained: Workspace) -> None:
    row = _rows(chained)[2]
    forged = event_hash(
        seq=3, ts=row.ts, actor="mallory", action=row.action, subject=row.subject,
        details=row.details, reason=row.reason, prev_hash=row.prev_hash,
    )  # fmt: skip
    _tamper(chained, "UPDATE audit_events SET actor = 'mallory', hash = :h WHERE seq = 3", h=forged)
    assert _kinds(chained) == {3: {"edited"}}


def test_a_deleted_event_is_named(chained: Workspace) -> None:
    _tamper(chained, "DELETE FROM audit_events WHERE seq = 2")
    assert _kinds(chained) == {2: {"deleted"}}


def test_events_cut_off_the_end_are_named(chained: Workspace) -> None:
    _tamper(chained, "DELETE FROM audit_events WHERE seq >= 5")
    # The recorded head (chain) and the signed checkpoint (checkpoint) both say so.
    result = chained.audit.verify()
    assert result.kinds() == {5: {"deleted"}, 6: {"deleted"}}
    assert {p.layer for p in result.problems} == {"chain", "checkpoint"}


def test_an_inserted_event_is_named_and_the_shifted_ones_too(chained: Workspace) -> None:
    rows = _rows(chained)
    _tamper(chained, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3")
    _tamper(chained, "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103")
    forged = event_hash(
        seq=3, ts=rows[2].ts, actor="mallory", action="model.promote", subject="model:x@1",
        details={}, reason=None, prev_hash=rows[1].hash,
    )  # fmt: skip
    _tamper(
        chained,
        "INSERT INTO audit_events (seq, id, ts, actor, action, subject, details, reason, "
        "prev_hash, hash) VALUES (3, 'forged', :ts, 'mallory', 'model.promote', 'model:x@1', "
        "'{}', NULL, :prev, :hash)",
        ts=rows[2].ts,
        prev=rows[1].hash,
        hash=forged,
    )
    kinds = _kinds(chained)
    assert kinds.pop(3) == {"inserted"}
    assert kinds.pop(7) == {"reordered", "inserted"}  # the old #6, now past the head
    assert kinds.pop(6) == {"reordered"}  # and the checkpoint's event is not at #6 any more
    assert kinds == {4: {"reordered"}, 5: {"reordered"}}


def test_an_inserted_copy_of_a_hash_is_named(chained: Workspace) -> None:
    rows = _rows(chained)
    _tamper(chained, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3")
    _tamper(chained, "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 103")
    _tamper(
        chained,
        "INSERT INTO audit_events (seq, id, ts, actor, action, subject, details, reason, "
        "prev_hash, hash) VALUES (3, 'forged', :ts, 'mallory', 'dataset.snapshot', "
        "'dataset:a@9', '{}', NULL, :prev, :hash)",
        ts=rows[2].ts,
        prev=rows[1].hash,
        hash=rows[2].hash,
    )
    assert _kinds(chained)[3] == {"inserted"}


def test_reordered_events_are_named(chained: Workspace) -> None:
    _tamper(chained, "UPDATE audit_events SET seq = 1000 WHERE seq = 3")
    _tamper(chained, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    _tamper(chained, "UPDATE audit_events SET seq = 4 WHERE seq = 1000")
    result = chained.audit.verify()
    assert result.kinds() == {3: {"reordered"}, 4: {"reordered"}}
    assert "was written as #4" in result.problems[0].message


# An attacker with write access to the database who recomputes every hash after their edit
# and updates the recorded head: the chain alone verifies, the signed checkpoint does not.


def _rechain(ws: Workspace, rows: list[dict[str, Any]]) -> None:
    """Replace the whole trail with ``rows``, every hash and the head recomputed."""
    prev = "0" * 64
    with ws.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
        for seq, row in enumerate(rows, start=1):
            fields = {k: row[k] for k in ("ts", "actor", "action", "subject", "details", "reason")}
            digest = event_hash(seq=seq, prev_hash=prev, **fields)
            conn.execute(
                text(
                    "INSERT INTO audit_events (seq, id, ts, actor, action, subject, details, "
                    "reason, prev_hash, hash) VALUES (:seq, :id, :ts, :actor, :action, "
                    ":subject, :details, :reason, :prev, :hash)"
                ),
                {**fields, "details": json.dumps(fields["details"]), "seq": seq,
                 "id": row["id"], "prev": prev, "hash": digest},
            )  # fmt: skip
            prev = digest
        head = json.dumps({"seq": len(rows), "hash": prev})
        conn.execute(
            text("UPDATE workspace_meta SET value = :v WHERE key = 'audit_head'"), {"v": head}
        )


def _plain(ws: Workspace) -> list[dict[str, Any]]:
    keys = ("id", "ts", "actor", "action", "subject", "details", "reason")
    return [{k: getattr(row, k) for k in keys} for row in _rows(ws)]


def test_rechaining_without_the_key_is_detected_three_ways(chained: Workspace) -> None:
    original = _plain(chained)
    forged = {**original[-1], "id": "forged", "action": "model.promote", "subject": "model:x@9"}

    _rechain(chained, [*original, forged])  # a forged promotion appended
    result = chained.audit.verify()
    assert result.kinds() == {7: {"inserted"}}
    assert "never signed: appended without the audit key" in result.problems[0].message

    _rechain(chained, original[:-1])  # the last event dropped
    assert _kinds(chained) == {6: {"deleted"}}

    _rechain(chained, [original[0], {**original[1], "actor": "mallory"}, *original[2:]])
    result = chained.audit.verify()
    assert result.kinds() == {6: {"rechained"}}
    assert "rewritten and re-chained" in result.problems[0].message

    _tamper(chained, "DELETE FROM workspace_meta WHERE key = 'audit_checkpoint'")
    assert _kinds(chained) == {None: {"unsigned"}}


def test_a_checkpoint_forged_without_the_key_is_detected(chained: Workspace) -> None:
    _rechain(chained, _plain(chained)[:-1])
    last = _rows(chained)[-1]
    wrong = AuditKey(secret=b"\x01" * 32, path=Path("guess"))
    forged = {**wrong.sign(last.seq, last.hash).to_dict(), "key_id": _key(chained).key_id}
    _tamper(
        chained,
        "UPDATE workspace_meta SET value = :v WHERE key = 'audit_checkpoint'",
        v=json.dumps(forged),
    )
    result = chained.audit.verify()
    assert result.kinds() == {5: {"rechained"}}
    assert "signature does not verify" in result.problems[0].message


def test_changes_are_refused_while_the_trail_does_not_match_its_checkpoint(
    chained: Workspace,
) -> None:
    original = _plain(chained)
    _rechain(chained, [original[0], {**original[1], "actor": "mallory"}, *original[2:]])
    # Signing the next change would vouch for the forgery, so nothing is written.
    with pytest.raises(IntegrityError, match="no longer matches its signed checkpoint at event #6"):
        _step(chained, 9)
    assert chained.audit.verify().events_checked == 6
    # An admin who has looked re-signs it as it stands; the re-signing is itself audited.
    event = chained.audit.checkpoint(reason="investigated: incident 42")
    assert event.action == "audit.checkpoint" and event.details["previous_checkpoint"]["seq"] == 6
    assert chained.audit.verify().ok
    _step(chained, 10)
    assert chained.audit.verify().ok


# An attacker who holds both the database and the key re-signs their rewrite: only a head
# kept elsewhere, or the export outside the store, shows it.


def _key(ws: Workspace) -> AuditKey:
    assert ws.store.audit.key_path is not None
    key = load_key(ws.store.audit.key_path)
    assert key is not None
    return key


def _resign(ws: Workspace, key: AuditKey) -> None:
    last = _rows(ws)[-1]
    value = json.dumps(key.sign(last.seq, last.hash).to_dict())
    _tamper(ws, "UPDATE workspace_meta SET value = :v WHERE key = 'audit_checkpoint'", v=value)


def test_a_head_kept_elsewhere_catches_an_attacker_with_the_key(chained: Workspace) -> None:
    kept = chained.audit.head()["hash"]
    assert chained.audit.verify(expect_head=kept).ok
    _step(chained, 7)  # the trail grows after the head was kept: still fine
    result = chained.audit.verify(expect_head=kept)
    assert result.ok and "the head you kept is event #6; 1 events were added since" in result.notes

    original = _plain(chained)
    _rechain(chained, [original[0], {**original[1], "actor": "mallory"}, *original[2:]])
    _resign(chained, _key(chained))
    assert chained.audit.verify().ok  # the key's holder can forge a consistent trail
    result = chained.audit.verify(expect_head=kept)
    assert [(p.kind, p.layer) for p in result.problems] == [("rechained", "head")]


def test_the_export_names_each_event_an_attacker_with_the_key_changed(
    any_ws: Workspace, tmp_path: Path
) -> None:
    export = tmp_path / "elsewhere" / "audit.jsonl"
    any_ws.store.audit.export_path = export
    for i in range(1, 6):
        _step(any_ws, i)
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [2, 3, 4, 5, 6]  # as they happened
    assert any_ws.audit.verify(against=export).ok

    original = _plain(any_ws)
    rewritten = [*original[:3], {**original[3], "actor": "mallory"}, *original[4:-1]]
    _rechain(any_ws, rewritten)  # #4 rewritten, #6 dropped, every hash recomputed
    _resign(any_ws, _key(any_ws))
    result = any_ws.audit.verify(against=export)
    found = {(p.seq, p.kind) for p in result.problems if p.layer == "export"}
    assert found == {(4, "edited"), (5, "edited"), (6, "deleted")}  # #5: its prev_hash
    message = next(p.message for p in result.problems if p.seq == 4)
    assert 'actor is "mallory", the export has "tester"' in message


def test_expect_head_must_be_a_hash(chained: Workspace) -> None:
    from stead.core.errors import UsageError

    with pytest.raises(UsageError, match="expected the 64 hex digits"):
        chained.audit.verify(expect_head="abc")
