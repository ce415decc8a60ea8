"""``stead audit``: read and verify the tamper-evident audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, print_json, print_table, say
from stead.cli.session import guarded, open_workspace
from stead.core.clock import parse_time
from stead.core.errors import IntegrityError, UsageError

app = typer.Typer(
    name="audit",
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
def verify(
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        metavar="HASH",
        help="A head hash kept outside the store (from `stead audit head`); it must still "
        "be in the chain.",
    ),
    against: Path | None = typer.Option(
        None,
        "--against",
        metavar="FILE",
        help="An export file ([audit] export) to compare every event with.",
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Check the chain, its signed checkpoint and what you kept elsewhere.

    Reports every broken event and what is wrong with it (edited, deleted, inserted,
    reordered, re-chained); exits non-zero when anything is.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        result = ws.audit.verify(expect_head=expect_head, against=against)
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        signed = result.checkpoint
        how = f", signed at #{signed['seq']} by key {signed['key_id']}" if signed else ""
        say(
            f"audit trail intact: {result.events_checked} events, head {result.head_hash[:16]}{how}"
        )
    else:
        count = len(result.problems)
        say(f"[bold red]audit trail broken[/]: {count} problem{'s' if count != 1 else ''}")
        for problem in result.problems:
            where = f"#{problem.seq}" if problem.seq is not None else "trail"
            say(f"  {where:>6}  {problem.kind:<9} ({problem.layer}) {escape(problem.message)}")
    if not as_json:
        for note in result.notes:
            say(f"  note: {escape(note)}")
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)


@app.command()
def head(as_json: bool = JSON_OPTION, workspace: Path | None = WORKSPACE_OPTION) -> None:
    """Print the chain head; keep it outside the store and check it with --expect-head."""
    with open_workspace(workspace, as_json=as_json) as ws:
        value = ws.audit.head()
    if as_json:
        print_json(value)
        return
    typer.echo(value["hash"])
    say(f"event #{value['seq']}; check later with `stead audit verify --expect-head HASH`")


@app.command()
def checkpoint(
    reason: str = typer.Option(..., help="Why the trail is re-signed as it stands (audited)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Sign the current head now, vouching for every event in it (admins only).

    Needed once for a trail whose checkpoint no longer holds, after `stead audit verify`
    showed what changed: changes are refused until then.
    """
    with open_workspace(workspace, as_json=as_json) as ws, guarded(as_json=as_json):
        ws.access.require_admin(ws.actor, action="re-sign the audit trail")
        event = ws.audit.checkpoint(reason=reason)
    if as_json:
        print_json(event.to_dict())
        return
    say(f"signed the audit trail at event #{event.seq} (audit.checkpoint)")
