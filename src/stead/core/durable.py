"""Atomic, durable file writes: a reader sees a whole file or none, and it survives a crash.

The recipe: write to a hidden temporary name in the target directory, fsync the file,
rename it into place (atomic on POSIX within one filesystem), then fsync the directory
so that the rename itself is on disk. New directories are made durable the same way,
by fsyncing their parent after creating them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary path, then durably move the result to ``path``.

    The temporary name starts with a dot, so readers that skip hidden files (ours and
    pyarrow's dataset discovery) never see it, even when a crash leaves it behind.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def make_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each entry made durable."""
    missing = []
    path = directory
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        # A new directory entry is durable only once its parent is fsync'd.
        fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
