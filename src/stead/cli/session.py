"""Opening the workspace for a command, and turning stead errors into clean exits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from stead.cli.output import fail, notice
from stead.core.errors import SteadError

if TYPE_CHECKING:
    from stead.workspace import Workspace


@contextmanager
def guarded(*, as_json: bool = False) -> Iterator[None]:
    """Run a command body; a SteadError becomes one clear message and its exit code."""
    try:
        yield
    except SteadError as error:
        fail(error, as_json=as_json)


@contextmanager
def open_workspace(path: Path | None, *, as_json: bool = False) -> Iterator[Workspace]:
    """The workspace for a command, with errors reported the stead way."""
    # Imported here so that building the app (and `stead --help`) does not open the stages.
    from stead.workspace import Workspace

    with guarded(as_json=as_json):
        ws = Workspace.open(path)
        try:
            for message in ws.notices:
                notice(message)
            yield ws
        finally:
            ws.close()
