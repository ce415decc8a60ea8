"""Building an expensive directory once per test run, however many xdist workers ask.

Each worker has its own session, so a session fixture alone builds its workspace once
*per worker*. :func:`once_per_run` builds it once in the run's shared temporary
directory under a file lock; the other workers wait for it and read what the build
returned. Whoever uses the directory copies it (or only reads it).
"""

from __future__ import annotations

import fcntl
import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def run_directory(factory: pytest.TempPathFactory) -> Path:
    """The temporary directory every worker of this test run shares."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once_per_run(
    factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Any]
) -> tuple[Path, Any]:
    """``build(directory)`` the first time any worker asks; its JSON result for all.

    Returns:
        The built directory and what ``build`` returned (through JSON).
    """
    shared = run_directory(factory)
    directory = shared / name
    result, failed = shared / f"{name}.json", shared / f"{name}.failed"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failed.exists():
            pytest.fail(f"building {name} failed on another worker:\n{failed.read_text()}")
        if not result.exists():
            directory.mkdir()
            try:
                value = build(directory)
            except BaseException:
                failed.write_text(traceback.format_exc()[-4000:])
                raise
            result.write_text(json.dumps(value))
    return directory, json.loads(result.read_text())
