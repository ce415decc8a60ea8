"""``stead audit``: read and verify the tamper-evident audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, print_json, print_table, say
from stead.cli.session import guarded, open_workspace
from stead.core.clock import parse_time
from stead.core.errors import IntegrityError, UsageError

app = typer.Typer(
    rich_markup_mode=None,
    help="The hash-chained audit trail of every change.",
    no_args_is_help=True,
)


@app.command()
def log(
    subject: str | None = typer.Option(None, help="Only events whose subject starts with this."),
    actor: str | None = typer.Option(None, help="Only events by this actor."),
    action: str | None = typer.Option(None, help="Only events whose action starts with this."),
    since: str | None = typer.Option(None, help="Only events at or after this ISO time."),
    limit: int = typer.Option(200, help="At most this many events (newest last)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show audit events, oldest first."""
    with guarded(as_json=as_json):
        try:
            since_time = parse_time(since) if since else None
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from exc
    with open_workspace(workspace, as_json=as_json) as ws:
        events = ws.audit.events(
            subject=subject, actor=actor, action=action, since=since_time, limit=limit
        )
    if as_json:
        print_json([e.to_dict() for e in events])
        return
    print_table(
        "audit trail",
        ["#", "time", "actor", "action", "subject", "reason", "details"],
        [
            (
                e.seq,
                e.ts.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                e.subject,
                e.reason or "",
                _short(json.dumps(e.details, default=str)),
            )
            for e in events
        ],
    )


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
def verify(as_json: bool = JSON_OPTION, workspace: Path | None = WORKSPACE_OPTION) -> None:
    """Walk the hash chain; exits non-zero and names the first bad event if it was altered."""
    with open_workspace(workspace, as_json=as_json) as ws:
        result = ws.audit.verify()
    if as_json:
        print_json(result.to_dict())
    if result.ok:
        if not as_json:
            say(f"audit trail intact: {result.events_checked} events, head {result.head_hash[:16]}")
        return
    if not as_json:
        say(f"[bold red]audit trail broken[/] at event #{result.first_bad_seq}: {result.problem}")
    raise typer.Exit(IntegrityError.exit_code)
