"""A training process killed with kill -9 leaves a run shown as interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.conftest import run_stead

from .projects import TRAINING, credit_frame, write_project

SLOW = """\
import pathlib
import time

from sklearn.base import BaseEstimator, ClassifierMixin


class Slow(ClassifierMixin, BaseEstimator):
    def __init__(self, marker="fitting"):
        self.marker = marker

    def fit(self, X, y):
        pathlib.Path(self.marker).write_text("started")
        time.sleep(600)
        return self

    def predict(self, X):
        return X[:, 0]
"""


@pytest.mark.slow
def test_a_killed_training_shows_as_interrupted_not_running(ws_dir: Path) -> None:
    marker = ws_dir / "fit-started"
    write_project(
        ws_dir,
        training={**TRAINING, "estimator": "slow:Slow", "params": {"marker": str(marker)}},
        modules={"slow.py": SLOW},
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")

    process = subprocess.Popen(
        [sys.executable, "-m", "stead", "train"],
        cwd=ws_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "training never reached fit"
            time.sleep(0.05)
        with Workspace.open(ws_dir) as ws:
            (running,) = ws.runs.list()
            assert running.status == "running" and running.pid == process.pid
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    with Workspace.open(ws_dir) as ws:
        (run,) = ws.runs.list()
        assert run.status == "interrupted"
        assert run.error and f"pid {process.pid}" in run.error and "killed or crashed" in run.error
        assert run.model_artifact is None
        assert [r.id for r in ws.runs.list(status="interrupted")] == [run.id]
    listed = json.loads(run_stead("runs", "list", "--json", cwd=ws_dir).stdout)
    assert [r["status"] for r in listed] == ["interrupted"]
