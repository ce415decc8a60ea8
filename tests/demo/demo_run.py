"""The demo, run once per test run as a real command; several tests assert on its result.

A pytest plugin (``tests/conftest.py``). The demo is the suite's longest end-to-end run,
so the tests that need it share one run, even across xdist workers
(:func:`tests.once.once_per_run`). They must not change the workspace: :func:`copy_of`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_stead
from tests.once import once_per_run


@dataclass(frozen=True)
class DemoRun:
    root: Path
    facts: dict[str, Any]


def _run_demo(directory: Path) -> dict[str, Any]:
    done = run_stead(
        "demo", "--dir", str(directory / "demo"), "--fast", "--json", cwd=directory, timeout=1500
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts: dict[str, Any] = json.loads(done.stdout)["facts"]
    return facts


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``stead demo --fast --json`` in a fresh directory, as a user would run it."""
    directory, facts = once_per_run(tmp_path_factory, "demo", _run_demo)
    return DemoRun(root=directory / "demo", facts=facts)


def copy_of(run: DemoRun, target: Path) -> Path:
    """A copy of the demo's workspace, for a test that changes it."""
    shutil.copytree(run.root, target)
    return target
