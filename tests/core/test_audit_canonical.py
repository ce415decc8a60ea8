"""An event's hash is over exactly what the store gives back, whatever a writer passed."""

from __future__ import annotations

import math
import stat
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from stead.core.audit_canonical import canonical_value
from stead.core.errors import IntegrityError, UsageError
from stead.workspace import Workspace

# Text as clients send it: any code point, lone surrogates and NUL included.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
JSONABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
NAMES = st.text(st.characters(codec=None, exclude_categories=()), min_size=1, max_size=30)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    details=st.dictionaries(TEXT, JSONABLE, max_size=5),
    reason=JSONABLE,
    actor=NAMES,
    subject=NAMES,
)
def test_any_jsonable_event_verifies_after_the_store_gives_it_back(
    any_ws: Workspace, details: dict[str, Any], reason: Any, actor: str, subject: str
) -> None:
    with any_ws.store.change("test.event", subject, reason=reason, actor=actor) as change:
        change.details.update(details)
    assert change.event is not None
    stored = any_ws.audit.events(limit=1)[0]
    assert stored == change.event  # what was hashed is what the store returned
    result = any_ws.audit.verify()
    assert result.ok, result.problems


def test_a_number_given_as_a_reason_is_stored_and_hashed_as_text(any_ws: Workspace) -> None:
    with any_ws.store.change("endpoint.rollback", "endpoint:credit", reason=499):  # type: ignore[arg-type]
        pass
    event = any_ws.audit.events(limit=1)[0]
    assert event.reason == "499"
    assert any_ws.audit.verify().ok


def test_values_take_the_form_the_store_returns() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    value = canonical_value(
        {
            1: "one",
            "nan": math.nan,
            "inf": -math.inf,
            "np": [np.int64(3), np.float64(0.5), np.bool_(True)],
            "when": when,
            "decimal": Decimal("2.50"),
            "set": {3, 1, 2},
            "tuple": (1, "a"),
            "path": Path("/x/y"),
            "text": "e\u0301\ud800\x00",
        }
    )
    assert value == {
        "1": "one",
        "nan": "NaN",
        "inf": "-Infinity",
        "np": [3, 0.5, True],
        "when": "2026-01-02T01:04:05.000006+00:00",
        "decimal": 2.5,
        "set": [1, 2, 3],
        "tuple": [1, "a"],
        "path": "/x/y",
        "text": unicodedata.normalize("NFC", "e\u0301") + "\ufffd\ufffd",
    }
    assert type(value["np"][0]) is int and type(value["np"][1]) is float


def test_the_event_time_is_stored_in_utc(any_ws: Workspace) -> None:
    from stead.core.audit import append_event

    with any_ws.store.change("test.event", "x:1") as change:
        local = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=-7)))
        append_event(
            change.session,
            event_id="ev-local",
            ts=local,
            actor="tester",
            action="test.local",
            subject="x:2",
            details={},
            reason=None,
        )
    event = any_ws.audit.events(action="test.local")[0]
    assert event.ts == datetime(2026, 5, 1, 19, 0, tzinfo=UTC)
    assert any_ws.audit.verify().ok


def test_a_field_longer_than_its_column_is_refused_on_every_backend(any_ws: Workspace) -> None:
    with (
        pytest.raises(UsageError, match="audit event subject is 401 characters"),
        any_ws.store.change("test.event", "s" * 401),
    ):
        pass
    assert any_ws.audit.verify().ok


def test_init_creates_the_audit_key_readable_by_its_owner_only(ws: Workspace) -> None:
    path = ws.store.audit.key_path
    assert path is not None and path == ws.root / ".stead" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ws.audit.head()["checkpoint"]["key_id"] == ws.store.audit.key().key_id  # type: ignore[union-attr]


def test_a_signed_trail_refuses_changes_without_its_key(ws_dir: Path, tmp_path: Path) -> None:
    key = ws_dir / ".stead" / "audit.key"
    saved = key.read_bytes()
    key.unlink()
    with (
        Workspace.open(ws_dir) as ws,  # opening and reading need no key
        pytest.raises(IntegrityError, match=r"the audit key .* is missing on this machine"),
        ws.store.change("test.event", "x:1"),
    ):
        pass
    other = tmp_path / "other.key"
    other.write_text("ab" * 32)
    other.chmod(0o600)
    with (
        Workspace.open(ws_dir) as ws,
        pytest.raises(IntegrityError, match="signed with key"),
    ):
        ws.store.audit.key_path = other
        with ws.store.change("test.event", "x:1"):
            pass
    key.write_bytes(saved)
    key.chmod(0o600)
    with Workspace.open(ws_dir) as ws:
        with ws.store.change("test.event", "x:1"):
            pass
        assert ws.audit.verify().ok


def test_a_trail_from_before_signing_is_signed_by_its_next_change(ws_dir: Path) -> None:
    (ws_dir / ".stead" / "audit.key").unlink()
    with Workspace.open(ws_dir) as ws:
        with ws.store.engine.begin() as conn:
            conn.execute(text("DELETE FROM workspace_meta WHERE key = 'audit_checkpoint'"))
        before = ws.audit.verify()
        assert before.ok and "never signed" in before.notes[0]
        with ws.store.change("test.event", "x:1"):
            pass
        after = ws.audit.verify()
    assert after.ok and after.checkpoint is not None and after.checkpoint["seq"] == 2
    assert (ws_dir / ".stead" / "audit.key").exists()
