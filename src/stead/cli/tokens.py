"""``stead tokens``: API tokens for the HTTP server."""

from __future__ import annotations

from pathlib import Path

import typer

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, print_json, print_table, say
from stead.cli.session import open_workspace

app = typer.Typer(
    name="tokens",
    rich_markup_mode=None,
    help="API tokens with roles, stored hashed.",
    no_args_is_help=True,
)


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the token (e.g. ci-bot)."),
    role: str = typer.Option(
        ...,
        "--role",
        help="viewer (reads), predictor (+ predicts), labeler (reads + sends labels), "
        "deployer (predicts + changes endpoints) or admin (everything).",
    ),
    team: str | None = typer.Option(
        None,
        "--team",
        help="The team it acts for: labeler and deployer tokens act only on "
        "what that team owns (a labeler needs one).",
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Create a token (admins only). The secret is printed once and never stored."""
    with open_workspace(workspace, as_json=as_json) as ws:
        issued = ws.tokens.create(name=name, role=role, team=team)
    if as_json:
        print_json({**issued.token.to_dict(), "secret": issued.secret})
        return
    say(f"created token {issued.token.id} ({role}{', team ' + team if team else ''})")
    say(f"secret (shown once): {issued.secret}")


@app.command()
def revoke(
    token_id: str = typer.Argument(..., help="The token id (not the secret)."),
    reason: str | None = typer.Option(None, "--reason"),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Revoke a token; it stops working at once."""
    with open_workspace(workspace, as_json=as_json) as ws:
        token = ws.tokens.revoke(token_id, reason=reason)
    if as_json:
        print_json(token.to_dict())
    else:
        say(f"revoked token {token.id} ({token.name})")


@app.command("list")
def list_(as_json: bool = JSON_OPTION, workspace: Path | None = WORKSPACE_OPTION) -> None:
    """List tokens (never their secrets)."""
    with open_workspace(workspace, as_json=as_json) as ws:
        tokens = ws.tokens.list()
    if as_json:
        print_json([t.to_dict() for t in tokens])
        return
    print_table(
        "API tokens",
        ["id", "name", "role", "team", "created", "by", "status"],
        [
            (
                t.id,
                t.name,
                t.role,
                t.team or "",
                t.created_at.strftime("%Y-%m-%d %H:%M"),
                t.created_by,
                "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d}",
            )
            for t in tokens
        ],
    )
