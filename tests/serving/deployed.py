"""A governed workspace with versions ready to deploy, and a way to serve it in tests.

Trained once per session and copied into each test's directory:

- ``credit@1``: gradient-boosted trees, reproduced, in ``production``;
- ``credit@2``: a logistic regression, reproduced, in ``staging``;
- ``credit@3``: the same logistic regression run registered again is refused, so
  ``credit@3`` is a second, *weak* tree model, registered but not reproduced (its
  checklist fails), in ``staging``.

Both checklists of ``credit@1`` and ``credit@2`` pass (teams, monitoring and alerts are
configured, the runs were reproduced, champion tolerance is generous). A pytest plugin
(``tests/conftest.py``): tests ask for ``dep_dir`` or ``dws`` by name.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stead.workspace import Workspace
from tests.once import once_per_run
from tests.stores import on_backend

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; httpx (a dependency) works fine.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
from tests.training.projects import TRAINING, credit_frame, set_tables, write_project

GOVERNANCE: dict[str, dict[str, Any]] = {
    "teams": {"risk-team": ["tester", "alice"], "growth": ["mallory"]},
    "auth": {"admins": ["root"]},
    "monitoring": {"enabled": True},
    "alerts": {"sinks": ["log"]},
    "checklist": {"champion_tolerance": 1.0},
}
LINEAR = {**TRAINING, "estimator": "sklearn.linear_model.LogisticRegression", "params": {}}
WEAK = {**TRAINING, "params": {"max_iter": 2, "max_depth": 2}}
TREES, LOGISTIC, WEAK_TREES = "credit@1", "credit@2", "credit@3"
RECORD = {"income": 41.5, "age": 33, "region": "south"}


@pytest.fixture(scope="session", name="deployable_template")
def _deployable_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory, _ = once_per_run(tmp_path_factory, "deployable", _build_deployable)
    return directory / "ws"


def _build_deployable(directory: Path) -> None:
    root = directory / "ws"
    Workspace.init(root, actor="tester")
    write_project(root)
    set_tables(root, GOVERNANCE)
    with Workspace.open(root, actor="tester") as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        trees = ws.runs.train().run.id
    set_tables(root, {"training": LINEAR})
    with Workspace.open(root, actor="tester") as ws:
        linear = ws.runs.train().run.id
    set_tables(root, {"training": WEAK})
    with Workspace.open(root, actor="tester") as ws:
        weak = ws.runs.train().run.id
    set_tables(root, {"training": TRAINING})
    with Workspace.open(root, actor="tester") as ws:
        for run, ref in ((trees, TREES), (linear, LOGISTIC), (weak, WEAK_TREES)):
            assert ws.models.register(run, name="credit").version.ref == ref
        ws.runs.reproduce(trees)
        ws.runs.reproduce(linear)
        ws.models.promote(TREES, to="production", reason="the first model")
        ws.models.promote(LOGISTIC, to="staging", reason="challenger")
        ws.models.promote(WEAK_TREES, to="staging", reason="to be refused")


@pytest.fixture(name="dep_dir")
def _dep_dir(
    deployable_template: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Path:
    """A fresh copy of the deployable workspace (real stores, no endpoints yet)."""
    target = tmp_path / "ws"
    shutil.copytree(deployable_template, target)
    return on_backend(target, backend, request)


@pytest.fixture(name="dws")
def _dws(dep_dir: Path) -> Iterator[Workspace]:
    """The copy, opened as ``tester`` (a member of the owning team ``risk-team``)."""
    with Workspace.open(dep_dir) as ws:
        yield ws


@contextmanager
def serving(root: Path, **kwargs: Any) -> Iterator[TestClient]:
    """The serving app on ``root`` through Starlette's test client (lifespan included)."""
    from stead.server import create_app

    app = create_app(root, **kwargs)
    with TestClient(app) as client:
        yield client


def runtime_of(client: TestClient) -> Any:
    return client.app.state.runtime  # type: ignore[attr-defined]


def predict(
    client: TestClient,
    records: list[dict[str, Any]] | None = None,
    *,
    endpoint: str = "credit",
    headers: dict[str, str] | None = None,
    expect: int = 200,
    **body: Any,
) -> dict[str, Any]:
    payload = dict(body) if "columns" in body else {"records": records or [RECORD], **body}
    response = client.post(f"/v1/endpoints/{endpoint}/predict", json=payload, headers=headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result
