"""``stead demo``: the whole life of a model on the credit scenario."""

from __future__ import annotations

from pathlib import Path

import typer

from stead.cli.output import JSON_OPTION, print_json, say
from stead.cli.session import guarded
from stead.core.errors import UsageError

app = typer.Typer(rich_markup_mode=None)


@app.command()
def demo(
    directory: Path = typer.Option(
        Path("demo-workspace"), "--dir", help="Where to build the demo workspace."
    ),
    fast: bool = typer.Option(False, "--fast", help="Less data, for tests and a quick look."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run stead's lifecycle end to end on a seeded credit-default scenario."""
    from stead.demo.story import run_demo

    with guarded(as_json=as_json):
        try:
            outcome = run_demo(directory, fast=fast, say=(lambda _m: None) if as_json else say)
        except FileExistsError as exc:
            raise UsageError(str(exc)) from exc
    if as_json:
        print_json({"root": str(outcome.root), "steps": outcome.steps, "facts": outcome.facts})
