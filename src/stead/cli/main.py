"""Entry point of the ``stead`` command. Each stage adds its commands in its own module."""

from __future__ import annotations

import sys

import typer

from stead.cli import (
    audit,
    data,
    demo,
    feedback,
    monitoring,
    predictions,
    registry,
    scoring,
    serving,
    tokens,
    training,
    workspace,
)
from stead.core.errors import SteadError
from stead.core.openmp import passive_waits

app = typer.Typer(
    rich_markup_mode=None,
    name="stead",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"stead {version('stead')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print stead's version and exit.",
    ),
) -> None:
    """stead: versioned data, reproducible training, governed models, safe serving,
    monitoring and retraining on evidence, all audited."""


workspace.register(app)
demo.register(app)
training.register(app)
registry.register(app)
serving.register(app)
scoring.register(app)
monitoring.register(app)
app.add_typer(data.app, name="data")
app.add_typer(audit.app, name="audit")
app.add_typer(tokens.app, name="tokens")
app.add_typer(predictions.app, name="predictions")
app.add_typer(feedback.app, name="feedback")


def main() -> None:
    """Run the CLI; any SteadError that escapes a command is reported without a traceback."""
    passive_waits()  # before anything loads scikit-learn's OpenMP runtime
    try:
        app()
    except SteadError as error:  # commands normally handle their own, this is the net
        sys.stderr.write(f"error ({error.code}): {error.message}\n")
        sys.exit(error.exit_code)
