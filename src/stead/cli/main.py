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

app = typer.Typer(
    rich_markup_mode=None,
    name="stead",
    help="stead: versioned data, reproducible training, governed models, safe serving, "
    "monitoring and retraining on evidence, all audited.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
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
    try:
        app()
    except SteadError as error:  # commands normally handle their own, this is the net
        sys.stderr.write(f"error ({error.code}): {error.message}\n")
        sys.exit(error.exit_code)
