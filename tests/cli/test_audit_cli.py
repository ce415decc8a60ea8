from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from stead.workspace import Workspace
from tests.serving.deployed import TREES
from tests.training.projects import set_tables

from ..conftest import Cli, run_stead
from ..data.frames import small_frame


def test_audit_log_filters_and_verify_detects_tampering(cli: Cli, ws_dir: Path) -> None:
    small_frame().to_csv(ws_dir / "a.csv", index=False)
    cli("data", "snapshot", "credit", str(ws_dir / "a.csv"))
    _, out, _ = cli("audit", "log", "--subject", "dataset:", "--json")
    assert [e["subject"] for e in json.loads(out)] == ["dataset:credit@1"]
    _, out, _ = cli("audit", "log", "--actor", "someone-else", "--json")
    assert json.loads(out) == []
    _, out, _ = cli("audit", "log", "--since", "2000-01-01", "--json")
    assert len(json.loads(out)) == 2
    _, _, err = cli("audit", "log", "--since", "yesterday", expect=2)
    assert "not an ISO 8601 time" in err
    _, out, _ = cli("audit", "verify")
    assert "audit trail intact: 2 events" in out and "signed at #2 by key" in out

    with sqlite3.connect(ws_dir / ".stead" / "stead.db") as db:
        db.execute("UPDATE audit_events SET reason = 'cover-up' WHERE seq = 2")
    _, out, _ = cli("audit", "verify", expect=8)
    assert "audit trail broken: 1 problem" in out and "#2  edited" in out


def _changes(cli: Cli, ws_dir: Path, count: int) -> None:
    for i in range(count):
        small_frame().iloc[: 5 + i].to_csv(ws_dir / "a.csv", index=False)
        cli("data", "snapshot", "credit", str(ws_dir / "a.csv"))


def test_verify_lists_every_problem_as_json_and_exits_non_zero(cli: Cli, ws_dir: Path) -> None:
    _changes(cli, ws_dir, 4)  # events 1..5
    with sqlite3.connect(ws_dir / ".stead" / "stead.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
        db.execute("DELETE FROM audit_events WHERE seq = 3")
        db.execute("UPDATE audit_events SET seq = 1000 WHERE seq = 4")
        db.execute("UPDATE audit_events SET seq = 4 WHERE seq = 5")
        db.execute("UPDATE audit_events SET seq = 5 WHERE seq = 1000")
    _, out, _ = cli("audit", "verify", "--json", expect=8)
    report = json.loads(out)
    assert report["ok"] is False and report["first_bad_seq"] == 2
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [
        (2, "edited"),
        (3, "deleted"),
        (4, "reordered"),
        (5, "reordered"),
        (5, "reordered"),  # seen by the chain, and by the checkpoint that signed it
    ]
    assert "the event signed as #5 by the signed checkpoint" in report["problems"][-1]["message"]


def test_a_head_kept_elsewhere_is_checked_by_expect_head(cli: Cli, ws_dir: Path) -> None:
    _changes(cli, ws_dir, 2)
    _, out, _ = cli("audit", "head")
    kept = out.splitlines()[0]
    _, out, _ = cli("audit", "head", "--json")
    assert json.loads(out)["hash"] == kept and json.loads(out)["seq"] == 3
    _, out, _ = cli("audit", "verify", "--expect-head", kept)
    assert "audit trail intact" in out and "the head you kept is event #3" in out
    _, _, err = cli("audit", "verify", "--expect-head", "nothex", expect=2)
    assert "--expect-head 'nothex' is not a head hash" in err
    _, out, _ = cli("audit", "verify", "--expect-head", "f" * 64, expect=8)
    assert "is not in the trail" in out


def test_the_export_setting_writes_each_event_and_verify_compares(cli: Cli, ws_dir: Path) -> None:
    export = ws_dir.parent / "outside" / "audit.jsonl"
    set_tables(ws_dir, {"audit": {"export": str(export)}})
    _changes(cli, ws_dir, 3)
    assert [json.loads(line)["seq"] for line in export.read_text().splitlines()] == [2, 3, 4]
    _, out, _ = cli("audit", "verify", "--against", str(export))
    assert "audit trail intact: 4 events" in out and "events #1 to #1" not in out
    with sqlite3.connect(ws_dir / ".stead" / "stead.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    _, out, _ = cli("audit", "verify", "--against", str(export), "--json", expect=8)
    problems = {(p["seq"], p["kind"], p["layer"]) for p in json.loads(out)["problems"]}
    assert problems == {(3, "edited", "chain"), (3, "edited", "export")}
    _, _, err = cli("audit", "verify", "--against", str(ws_dir / "nope.jsonl"), expect=2)
    assert "cannot read the export" in err


def test_only_an_admin_re_signs_the_trail(cli: Cli, ws_dir: Path) -> None:
    set_tables(ws_dir, {"auth": {"admins": ["someone-else"]}})
    _, _, err = cli("audit", "checkpoint", "--reason", "why not", expect=7)
    assert "only an admin may" in err
    set_tables(ws_dir, {"auth": {"admins": ["tester"]}})
    _, out, _ = cli("audit", "checkpoint", "--reason", "after review")
    assert "signed the audit trail at event #2" in out
    _, out, _ = cli("audit", "log", "--action", "audit.", "--json")
    assert [(e["action"], e["reason"]) for e in json.loads(out)] == [
        ("audit.checkpoint", "after review")
    ]


def test_a_rollback_with_a_numeric_reason_leaves_the_trail_intact(dep_dir: Path) -> None:
    # A client once sent {"reason": 499}: the event was hashed over the number and stored as
    # text, and verification reported it edited for ever after.
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES, reason="first")
        ws.endpoints.deploy("credit", TREES, reason="again")
        ws.endpoints.rollback("credit", reason=499)  # type: ignore[arg-type]
        assert ws.audit.events(action="endpoint.rollback")[0].reason == "499"
    done = run_stead("audit", "verify", cwd=dep_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit trail intact" in done.stdout
