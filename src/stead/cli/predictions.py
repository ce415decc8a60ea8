"""``stead predictions tail``: the latest predictions of an endpoint, and new ones."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, console, print_json, print_table
from stead.cli.session import guarded, open_workspace
from stead.serving.log_format import decode
from stead.serving.log_tail import follow, tail
from stead.serving.predictions import PredictionService

app = typer.Typer(
    rich_markup_mode=None, help="The prediction log: what endpoints answered.", no_args_is_help=True
)
COLUMNS = ["time (UTC)", "request id", "model", "role", "rev", "answer", "latency ms", "error"]


@app.command("tail")
def tail_(
    endpoint: str = typer.Argument(..., help="The endpoint name."),
    n: int = typer.Option(20, "-n", "--lines", help="How many of the latest predictions."),
    follow_: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new predictions as they are logged."
    ),
    poll: float = typer.Option(1.0, "--poll", help="Seconds between looks for new ones."),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Show the latest predictions of ENDPOINT (with --follow, then each new one).

    With --json: a JSON list, or with --follow one JSON object per line.
    """
    with open_workspace(workspace, as_json=as_json) as ws:
        directory = PredictionService(ws).directory
    if not follow_:
        with guarded(as_json=as_json):
            frame = tail(directory, endpoint, n)
        if as_json:
            print_json(_records(frame))
        else:
            print_table(f"latest predictions of {endpoint}", COLUMNS, _rows(frame))
        return
    try:
        with guarded(as_json=as_json):
            for frame in follow(directory, endpoint, n=n, poll=poll):
                for record in _records(frame):
                    if as_json:
                        sys.stdout.write(json.dumps(record, default=str) + "\n")
                    else:
                        console.print(escape("  ".join(_line(record))), highlight=False)
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return [dataclasses.asdict(r) for r in decode(table)]


def _rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[escape(cell) for cell in _line(record)] for record in _records(frame)]


def _line(record: dict[str, Any]) -> list[str]:
    return [
        f"{record['timestamp']:%Y-%m-%d %H:%M:%S.%f}"[:-3],
        record["request_id"],
        record["model_version"],
        record["role"],
        "-" if record["revision"] is None else str(record["revision"]),
        _answer(record["outputs"]),
        f"{record['latency_ms']:.2f}",
        record["error"] or "",
    ]


def _answer(outputs: dict[str, Any]) -> str:
    if "value" in outputs:
        return f"value={outputs['value']:g}"
    text = f"prediction={outputs.get('prediction')}"
    probabilities = outputs.get("probabilities")
    if isinstance(probabilities, dict) and probabilities:
        text += f" (p={max(probabilities.values()):.3f})"
    return text
