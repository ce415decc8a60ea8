from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..conftest import Cli
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
    assert "audit trail intact: 2 events" in out

    with sqlite3.connect(ws_dir / ".stead" / "stead.db") as db:
        db.execute("UPDATE audit_events SET reason = 'cover-up' WHERE seq = 2")
    _, out, _ = cli("audit", "verify", expect=8)
    assert "broken at event #2" in out
