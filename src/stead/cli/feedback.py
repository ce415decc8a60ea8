"""``stead feedback ingest``: labels and KPI values for logged predictions, by request id."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, notice, print_json, say
from stead.cli.session import open_workspace
from stead.core.errors import NotFound

app = typer.Typer(
    rich_markup_mode=None, help="Feedback: labels and KPIs that arrive after predictions."
)


@app.command()
def ingest(
    endpoint: str = typer.Argument(..., help="The endpoint whose predictions are labelled."),
    file: Path = typer.Argument(
        ..., help="CSV or Parquet with request_id, label and optional KPI columns."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit with code 3 when any request id is unknown."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Store the labels (and KPIs) of FILE, joined to ENDPOINT's predictions by request id.

    Request ids the endpoint never logged are listed and not stored. Ingesting the same
    file again stores nothing new.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        outcome = ws.feedback.ingest(endpoint, file)
    if as_json:
        print_json(outcome.to_dict())
    else:
        say(escape(outcome.message))
        if outcome.unknown:
            notice(
                f"{len(outcome.unknown)} request id(s) in {escape(str(file))} were not "
                f"logged by endpoint {escape(endpoint)} and were not stored; fix them and "
                "ingest again (stored rows are not duplicated)"
            )
    if strict and outcome.unknown:
        raise typer.Exit(NotFound.exit_code)
