"""The demo, run once per test run as a real command; several tests assert on its result.

A pytest plugin (``tests/conftest.py``). The demo is the suite's longest end-to-end run,
so the tests that need it share one run, even across xdist workers: the first worker to
ask runs it under a file lock in the run's shared temporary directory, the others wait
and read its facts. (xdist's ``--dist loadgroup`` would be simpler, but with pytest 9 it
no longer groups anything.) The tests must not change the workspace: :func:`copy_of`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_stead


@dataclass(frozen=True)
class DemoRun:
    root: Path
    facts: dict[str, Any]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``stead demo --fast --json`` in a fresh directory, as a user would run it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # every worker's basetemp is a child of the run's
    cwd = shared / "demo-once"
    root, facts, failed = cwd / "demo", cwd / "facts.json", cwd / "failed.txt"
    with open(shared / "demo-once.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failed.exists():
            pytest.fail(f"the demo failed on another worker:\n{failed.read_text()}")
        if not facts.exists():
            cwd.mkdir(exist_ok=True)
            done = run_stead("demo", "--dir", str(root), "--fast", "--json", cwd=cwd, timeout=1500)
            if done.returncode != 0:
                failed.write_text(done.stderr[-2000:])
            assert done.returncode == 0, done.stderr[-2000:]
            facts.write_text(json.dumps(json.loads(done.stdout)["facts"]))
    return DemoRun(root=root, facts=json.loads(facts.read_text()))


def copy_of(run: DemoRun, target: Path) -> Path:
    """A copy of the demo's workspace, for a test that changes it."""
    shutil.copytree(run.root, target)
    return target
