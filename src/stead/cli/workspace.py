"""``stead init``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, print_json, say
from stead.cli.session import guarded

app = typer.Typer(rich_markup_mode=None)


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the workspace."),
    store_url: str | None = typer.Option(
        None, "--store-url", help="Metadata database URL (default: SQLite under .stead/)."
    ),
    from_data: Path | None = typer.Option(
        None,
        "--from",
        help="A CSV or Parquet file: propose column roles and features from its columns.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a workspace: a commented stead.toml, a starter features.py, the SQLite
    store and artifact directory."""
    from stead.workspace import Workspace

    with guarded(as_json=as_json):
        outcome = Workspace.init(directory, store_url=store_url, from_data=from_data)
    if as_json:
        proposal = outcome.proposal.to_dict() if outcome.proposal else None
        print_json(
            {
                "root": str(outcome.root),
                "created": outcome.created,
                "message": outcome.message,
                "proposal": proposal,
            }
        )
    else:
        say(escape(outcome.message))
