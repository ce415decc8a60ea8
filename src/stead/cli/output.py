"""How commands speak: a readable table for people, ``--json`` for machines, and one
error format, so every command behaves the same."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from stead.core.errors import SteadError

if TYPE_CHECKING:
    from stead.monitoring.records import RetrainTrigger

# Off a terminal (pipes, CI logs) Rich would wrap tables at 80 columns; use a wider
# default there unless COLUMNS says otherwise.
_WIDTH = (
    shutil.get_terminal_size().columns
    if sys.stdout.isatty()
    else int(os.environ.get("COLUMNS", "160"))
)
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")
WORKSPACE_OPTION = typer.Option(
    None, "--workspace", "-w", help="Workspace directory (default: found from the current one)."
)

T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=_default) + "\n")
    sys.stdout.flush()  # `stead serve --json` prints before it runs for hours


def print_json_line(value: Any) -> None:
    """One compact JSON object on one line, flushed: for commands that stream (JSON Lines)."""
    sys.stdout.write(json.dumps(value, default=_default) + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


def say(message: str) -> None:
    console.print(message, highlight=False)


def say_trigger(trigger: RetrainTrigger) -> None:
    """One line per retrain trigger: its id, kind, status and what processing it said."""
    text = f"retrain trigger {trigger.id} ({trigger.kind}, {trigger.status})"
    message = trigger.outcome.get("message") or trigger.error
    if message:
        text += f": {message}"
    say(escape(text))


def say_err(message: str) -> None:
    """A line for people on stderr, when stdout carries JSON."""
    err_console.print(message, highlight=False)


def notice(message: str) -> None:
    err_console.print(f"[yellow]note:[/] {message}", highlight=False)


def fail(error: SteadError, *, as_json: bool = False) -> None:
    """Report an error the stead way and exit with its code (no traceback)."""
    if as_json:
        print_json({"error": error.to_dict()})
    # Messages name settings like "[training] seed": escape them, or rich eats them as markup.
    err_console.print(
        f"[bold red]error[/] [dim]({error.code})[/]: {escape(error.message)}", highlight=False
    )
    raise typer.Exit(error.exit_code)


@contextmanager
def progress(
    description: str, *, total: float | None = None, quiet: bool = False
) -> Iterator[Callable[[float], None]]:
    """A progress bar on stderr; yields ``advance(n)``. Silent with ``--json`` or no TTY."""
    if quiet:
        yield lambda _n: None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
