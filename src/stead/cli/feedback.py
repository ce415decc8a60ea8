"""``stead feedback ingest`` and ``correct``: labels and KPI values for logged predictions,
by request id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, notice, print_json, say
from stead.cli.session import open_workspace
from stead.core.errors import NotFound

app = typer.Typer(
    name="feedback",
    rich_markup_mode=None,
    help="Feedback: labels and KPIs that arrive after predictions.",
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


@app.command()
def correct(
    endpoint: str = typer.Argument(..., help="The endpoint that logged the prediction."),
    request_id: str = typer.Argument(..., help="The prediction's request id."),
    label: str = typer.Argument(
        ..., help="The right label: read as JSON when it parses (1, 0.5, true), else text."
    ),
    reason: str = typer.Option(..., "--reason", help="Why the label changes (audited)."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Change the label of a prediction that already has one.

    Ingesting feedback never changes a label; this does, and the audit trail records the
    label before and after (event feedback.correct) with the reason.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        outcome = ws.feedback.correct(endpoint, request_id, label=_label(label), reason=reason)
    if as_json:
        print_json(outcome.to_dict())
    elif outcome.corrected:
        say(escape(f"{endpoint}: corrected the label of {request_id} to {label}"))
    else:
        say(escape(f"{endpoint}: {request_id} already has label {label}; nothing changed"))


def _label(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    # A JSON object or list is no label; keep what was typed and let the service refuse it.
    return value if isinstance(value, bool | int | float | str) or value is None else text
