"""A governed project: the training test project plus teams, admins, monitoring and alerts,
with two real runs trained once per session and copied into each test's directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.once import once_per_run
from tests.stores import on_backend
from tests.training.projects import TRAINING, credit_frame, set_tables, write_project

GOVERNANCE = {
    "teams": {"risk-team": ["tester", "alice"], "growth": ["mallory"]},
    "auth": {"admins": ["root"]},
    "monitoring": {"enabled": True},
    "alerts": {"sinks": ["log"]},
}
# A deliberately weak model: still far better than the prior, clearly worse than the
# default one on the same evaluation rows (same seed, same split).
WEAK_PARAMS = {"max_iter": 1, "max_depth": 1, "learning_rate": 0.05}


@dataclass(frozen=True)
class Runs:
    good: str
    weak: str


@pytest.fixture(scope="session", name="registry_template")
def _registry_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Runs]:
    directory, runs = once_per_run(tmp_path_factory, "registry", _build_registry)
    return directory / "ws", Runs(**runs)


def _build_registry(directory: Path) -> dict[str, str]:
    root = directory / "ws"
    Workspace.init(root, actor="tester")
    write_project(root)
    set_tables(root, GOVERNANCE)
    with Workspace.open(root, actor="tester") as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        good = ws.runs.train().run.id
    set_tables(root, {"training": {**TRAINING, "params": WEAK_PARAMS}})
    with Workspace.open(root, actor="tester") as ws:
        weak = ws.runs.train().run.id
    set_tables(root, {"training": TRAINING})
    return {"good": good, "weak": weak}


@pytest.fixture(name="runs")
def _runs(registry_template: tuple[Path, Runs]) -> Runs:
    return registry_template[1]


@pytest.fixture(name="reg_dir")
def _reg_dir(
    registry_template: tuple[Path, Runs],
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> Path:
    """A fresh copy of the trained workspace (a real SQLite store and artifact store)."""
    target = tmp_path / "ws"
    shutil.copytree(registry_template[0], target)
    return on_backend(target, backend, request)


@pytest.fixture(name="reg")
def _reg(reg_dir: Path) -> Iterator[Workspace]:
    """The copy, opened as ``tester`` (a member of the owning team ``risk-team``)."""
    with Workspace.open(reg_dir) as ws:
        yield ws


def open_as(root: Path, actor: str) -> Workspace:
    return Workspace.open(root, actor=actor)


def ready(ws: Workspace, run: str, name: str = "credit") -> str:
    """Register ``run`` and reproduce it, so that its checklist can pass."""
    ref = ws.models.register(run, name=name).version.ref
    ws.runs.reproduce(run)
    return ref


def artifact_file(ws: Workspace, digest: str) -> Path:
    path = ws.artifacts.local_path(digest)
    assert path is not None
    return path


def alter_artifact(ws: Workspace, digest: str) -> None:
    """Flip one byte in the middle of an artifact's file, as tampering on disk would."""
    path = artifact_file(ws, digest)
    os.chmod(path, 0o644)  # artifacts are written read-only
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
