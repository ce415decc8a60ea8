"""``stead retention apply``: delete what is older than ``[retention]`` allows."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, notice, print_json, say
from stead.cli.session import open_workspace

app = typer.Typer(
    name="retention",
    rich_markup_mode=None,
    help="Data retention: delete what is older than [retention] says.",
)


@app.command("apply")
def apply_retention(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Delete prediction-log days and feedback rows older than [retention] allows (audited).

    Audit events, registered models and snapshots are never deleted.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        outcome = ws.retention.apply(dry_run=dry_run)
    if as_json:
        print_json(outcome.to_dict())
        return
    say(escape(outcome.message))
    if outcome.event_id:
        say(f"audited as {outcome.event_id} (`stead audit log --action retention`)")
    if outcome.failed:
        notice("some partitions could not be deleted; see above")
        raise typer.Exit(1)
