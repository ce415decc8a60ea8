from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from stead.core.errors import PermissionDenied, Unauthenticated, UsageError
from stead.security.tokens import ApiTokenRow, role_allows
from stead.workspace import Workspace

from ..conftest import Cli, run_stead


def test_a_token_authenticates_until_revoked(any_ws: Workspace) -> None:
    issued = any_ws.tokens.create(name="ci-bot", role="deployer", team="risk")
    token = any_ws.tokens.authenticate(issued.secret)
    assert (token.name, token.role, token.team, token.identity) == (
        "ci-bot",
        "deployer",
        "risk",
        "token:ci-bot",
    )
    any_ws.tokens.revoke(issued.token.id, reason="rotated")
    with pytest.raises(Unauthenticated):
        any_ws.tokens.authenticate(issued.secret)
    assert [e.action for e in any_ws.audit.events(subject=f"token:{issued.token.id}")] == [
        "token.create",
        "token.revoke",
    ]


def test_the_secret_is_stored_only_as_a_hash(ws: Workspace) -> None:
    issued = ws.tokens.create(name="app", role="predictor")
    secret_part = issued.secret.split("_", 2)[2]
    with ws.store.read() as session:
        row = session.scalars(select(ApiTokenRow)).one()
    assert secret_part not in row.secret_hash
    db_bytes = (ws.root / ".stead" / "stead.db").read_bytes()
    wal = ws.root / ".stead" / "stead.db-wal"
    assert secret_part.encode() not in db_bytes + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.parametrize(
    "presented", ["", "garbage", "stead_x_y", "stead_tk0000_wrong", "bearer stead_a_b"]
)
def test_malformed_or_unknown_tokens_are_refused_alike(ws: Workspace, presented: str) -> None:
    issued = ws.tokens.create(name="app", role="viewer")
    with pytest.raises(Unauthenticated, match="invalid or revoked API token"):
        ws.tokens.authenticate(presented)
    wrong = issued.secret[:-2] + ("AA" if not issued.secret.endswith("AA") else "BB")
    with pytest.raises(Unauthenticated):
        ws.tokens.authenticate(wrong)


def test_roles_grant_duties_not_a_ladder() -> None:
    assert role_allows("admin", "deployer") and role_allows("deployer", "predictor")
    assert role_allows("predictor", "viewer") and not role_allows("predictor", "deployer")
    assert not role_allows("viewer", "predictor")
    # Labelling is its own duty: a predictor or a deployer token sends no labels.
    assert role_allows("labeler", "labeler") and role_allows("admin", "labeler")
    assert not role_allows("predictor", "labeler") and not role_allows("deployer", "labeler")
    assert role_allows("labeler", "viewer") and not role_allows("labeler", "predictor")


def test_unknown_roles_are_refused(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="not one of viewer, predictor, labeler, deployer, admin"):
        ws.tokens.create(name="x", role="root")


def test_a_labeler_token_needs_the_team_whose_endpoints_it_labels(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="a labeler token labels the endpoints of one team"):
        ws.tokens.create(name="labels", role="labeler")
    assert ws.tokens.create(name="labels", role="labeler", team="risk").token.team == "risk"


def test_init_names_its_creator_the_first_admin(tmp_path: Path) -> None:
    outcome = Workspace.init(tmp_path / "ws", actor="alice")
    assert "alice is its admin" in outcome.message
    with Workspace.open(tmp_path / "ws", actor="mallory") as ws:
        assert ws.access.is_admin("alice") and not ws.access.is_admin("mallory")
        with pytest.raises(PermissionDenied, match="'mallory' may not create API tokens"):
            ws.tokens.create(name="x", role="admin")
        assert ws.tokens.list() == []
    with Workspace.open(tmp_path / "ws", actor="alice") as ws:
        assert ws.tokens.create(name="x", role="admin").token.created_by == "alice"


def test_without_an_admin_nobody_manages_tokens_and_the_refusal_says_how_to_name_one(
    ws_dir: Path,
) -> None:
    settings = ws_dir / "stead.toml"
    settings.write_text(settings.read_text().replace('admins = ["tester"]', "admins = []"))
    with Workspace.open(ws_dir, actor="mallory") as ws:
        with pytest.raises(PermissionDenied) as info:
            ws.tokens.create(name="x", role="admin")
        with pytest.raises(PermissionDenied, match="has no admin"):
            ws.tokens.revoke("tk-any")
        assert ws.tokens.list() == []
    message = info.value.message
    assert "this workspace has no admin" in message
    assert '[auth] admins = ["mallory"]' in message and "STEAD_AUTH_ADMINS" in message
    settings.write_text(settings.read_text().replace("admins = []", 'admins = ["alice"]'))
    with (
        Workspace.open(ws_dir, actor="mallory") as ws,
        pytest.raises(
            PermissionDenied, match=r"only an admin may \(\[auth\] admins in stead.toml\)$"
        ),
    ):
        ws.tokens.create(name="x", role="admin")
    with Workspace.open(ws_dir, actor="alice") as ws:
        assert ws.tokens.create(name="x", role="admin").token.created_by == "alice"


def test_tokens_from_the_command_line(cli: Cli) -> None:
    _, out, _ = cli("tokens", "create", "--name", "ci", "--role", "predictor", "--json")
    issued = json.loads(out)
    assert issued["secret"].startswith("stead_") and issued["role"] == "predictor"
    _, out, _ = cli("tokens", "list", "--json")
    listed = json.loads(out)
    assert [t["name"] for t in listed] == ["ci"] and "secret" not in listed[0]
    _, out, _ = cli("tokens", "revoke", issued["id"])
    assert "revoked" in out
    _, _, err = cli("tokens", "revoke", "tk-nope", expect=3)
    assert "no token with id tk-nope" in err


@pytest.mark.slow  # real processes end to end; CI runs it
def test_a_fresh_workspace_refuses_tokens_to_anyone_but_its_creator(tmp_path: Path) -> None:
    created = run_stead("init", "ws", cwd=tmp_path, env={"STEAD_ACTOR": "alice"})
    assert created.returncode == 0, created.stderr
    assert "alice is its admin" in created.stdout
    ws_dir = tmp_path / "ws"

    mallory = run_stead(
        "tokens",
        "create",
        "--name",
        "x",
        "--role",
        "admin",
        cwd=ws_dir,
        env={"STEAD_ACTOR": "mallory"},
    )
    alice = run_stead(
        "tokens",
        "create",
        "--name",
        "x",
        "--role",
        "admin",
        "--json",
        cwd=ws_dir,
        env={"STEAD_ACTOR": "alice"},
    )

    assert mallory.returncode == PermissionDenied.exit_code
    assert "'mallory' may not create API tokens: only an admin may" in mallory.stderr
    assert alice.returncode == 0, alice.stderr
    assert json.loads(alice.stdout)["created_by"] == "alice"
