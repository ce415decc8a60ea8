"""``stead init``."""

from __future__ import annotations

from pathlib import Path

import typer

from stead.cli.output import JSON_OPTION, print_json, say
from stead.cli.session import guarded


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        directory: Path = typer.Argument(Path("."), help="Where to create the workspace."),
        store_url: str | None = typer.Option(
            None, "--store-url", help="Metadata database URL (default: SQLite under .stead/)."
        ),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Create a workspace: a commented stead.toml, the SQLite store and artifact directory."""
        from stead.workspace import Workspace

        with guarded(as_json=as_json):
            outcome = Workspace.init(directory, store_url=store_url)
        if as_json:
            print_json(
                {"root": str(outcome.root), "created": outcome.created, "message": outcome.message}
            )
        else:
            say(outcome.message)
