"""Entry point of the ``stead`` command.

Each ``cli/<module>.py`` has one Typer ``app``, mounted here without a name so that its
commands and groups appear at the top level: a module of one group names its app after
the group (``stead data``); the others add their top-level commands (``stead train``)
and groups (``stead runs``) to a nameless app.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from stead.cli import (
    audit,
    data,
    demo,
    feedback,
    monitoring,
    predictions,
    registry,
    retention,
    retraining,
    scoring,
    serving,
    tokens,
    training,
    workspace,
)
from stead.core.errors import SteadError
from stead.core.openmp import passive_waits


class _CommandsFirst(TyperGroup):
    """Lists the commands (``stead train``) before the groups (``stead runs``), each in
    the order the modules are mounted, as ``stead --help`` always has."""

    # Any: the Context here is typer's vendored click's, which typer does not export.
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: isinstance(self.commands[name], TyperGroup))


app = typer.Typer(
    cls=_CommandsFirst,
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


for module in (
    workspace,
    demo,
    training,
    registry,
    serving,
    scoring,
    monitoring,
    retention,
    retraining,
    data,
    audit,
    tokens,
    predictions,
    feedback,
):
    app.add_typer(module.app)


def main() -> None:
    """Run the CLI; any SteadError that escapes a command is reported without a traceback."""
    passive_waits()  # before anything loads scikit-learn's OpenMP runtime
    try:
        app()
    except SteadError as error:  # commands normally handle their own, this is the net
        sys.stderr.write(f"error ({error.code}): {error.message}\n")
        sys.exit(error.exit_code)
