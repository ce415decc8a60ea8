"""``stead score``: batch scoring of a CSV or Parquet file, logged like online predictions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from stead.cli.output import JSON_OPTION, WORKSPACE_OPTION, notice, print_json, progress, say
from stead.cli.session import open_workspace

# The same values as stead.serving.batch.scoring's ENGINES and DEFAULT_CHUNK_ROWS, repeated so that
# building the app does not import pandas and pyarrow; tests/cli/test_cli_startup.py keeps
# the two in step.
ENGINES = ("local", "dask")
DEFAULT_CHUNK_ROWS = 10_000


app = typer.Typer(rich_markup_mode=None)


@app.command()
def score(
    target: str = typer.Argument(..., help="An endpoint (its production version) or NAME@N."),
    input: Path = typer.Argument(..., help="CSV or Parquet with the model's input columns."),
    output: Path = typer.Argument(..., help="The Parquet file to write."),
    engine: str = typer.Option("local", "--engine", help=f"{' or '.join(ENGINES)}."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address (default: a local cluster)."
    ),
    chunk_rows: int = typer.Option(DEFAULT_CHUNK_ROWS, "--chunk-rows", help="Rows per chunk."),
    log_as: str | None = typer.Option(
        None, "--log-as", help="Endpoint name to log under (default: ENDPOINT or NAME.batch)."
    ),
    as_json: bool = JSON_OPTION,
    workspace: Path | None = WORKSPACE_OPTION,
) -> None:
    """Score INPUT with TARGET and write OUTPUT with a request id per row.

    The input is checked against the version's contract first; every prediction is
    logged. The same input and version again writes the same output and logs nothing.
    """
    with (
        open_workspace(workspace, as_json=as_json) as ws,
        progress(f"scoring {input.name}", total=_rows(input), quiet=as_json) as advance,
    ):
        outcome = ws.scoring.score(
            target,
            input,
            output,
            engine=engine,  # type: ignore[arg-type]  # checked by the service
            scheduler=scheduler,
            chunk_rows=chunk_rows,
            log_endpoint=log_as,
            on_progress=advance,
        )
    if as_json:
        print_json(outcome.to_dict())
        return
    for warning in outcome.warnings:
        notice(escape(warning))
    say(escape(outcome.message))


def _rows(path: Path) -> int | None:
    # Exact for Parquet (from the footer); a CSV's count is known only once it is read.
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:
            return None
    return None
