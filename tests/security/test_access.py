from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import PermissionDenied, SettingsError
from stead.workspace import Workspace


def _with_teams(ws_dir: Path, extra: str) -> None:
    settings = ws_dir / "stead.toml"
    text = settings.read_text().replace('# risk = ["alice", "bob"]', 'risk = ["alice", "bob"]')
    settings.write_text(text.replace('admins = ["tester"]', extra))


def test_members_and_admins_may_act_for_a_team(ws_dir: Path) -> None:
    _with_teams(ws_dir, 'admins = ["root-admin"]')
    with Workspace.open(ws_dir) as ws:
        policy = ws.access
        assert policy.may_act_for("bob", "risk")
        assert policy.may_act_for("root-admin", "risk")
        assert policy.may_act_for("carol", "carol")  # a one-person owner
        with pytest.raises(PermissionDenied) as info:
            policy.require_owner("carol", "risk", action="promote credit@3")
    message = str(info.value)
    assert "'carol' may not promote credit@3: it is owned by 'risk'" in message
    # The refusal names the team, never who is in it nor who the admins are.
    assert not {"alice", "bob", "root-admin"} & set(message.replace(",", " ").split())
    assert "alice" not in str(info.value.details) and "root-admin" not in message


def test_a_malformed_team_is_a_settings_error(ws_dir: Path) -> None:
    _with_teams(ws_dir, "")
    settings = ws_dir / "stead.toml"
    settings.write_text(settings.read_text().replace('risk = ["alice", "bob"]', 'risk = "alice"'))
    with pytest.raises(SettingsError, match=r"\[teams\] risk = 'alice' is not allowed"):
        Workspace.open(ws_dir)
