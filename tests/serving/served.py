"""A workspace with real registered models and predictions logged by the real writer.

Two versions are trained once per session and copied into each test's directory:
``credit@1`` (gradient-boosted trees, the training tests' default) and ``credit@2``
(a logistic regression). A pytest plugin (``tests/conftest.py``): tests ask for
``served_dir`` or ``sws`` by name.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stead.core.ids import new_id
from stead.predictions.outputs import output_dicts, predict_table
from stead.predictions.record import PredictionRecord
from stead.workspace import Workspace
from tests.once import once_per_run
from tests.stores import on_backend
from tests.training.projects import TRAINING, credit_frame, set_tables, write_project

LINEAR = {**TRAINING, "estimator": "sklearn.linear_model.LogisticRegression", "params": {}}
TREES = "credit@1"
LOGISTIC = "credit@2"


@dataclass(frozen=True)
class Served:
    root: Path
    trees: str = TREES
    logistic: str = LOGISTIC


@pytest.fixture(scope="session", name="served_template")
def _served_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory, _ = once_per_run(tmp_path_factory, "served", _build_served)
    return directory / "ws"


def _build_served(directory: Path) -> None:
    root = directory / "ws"
    Workspace.init(root, actor="tester")
    write_project(root)
    with Workspace.open(root, actor="tester") as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        trees = ws.runs.train().run.id
        assert ws.models.register(trees, name="credit").version.ref == TREES
    set_tables(root, {"training": LINEAR})
    with Workspace.open(root, actor="tester") as ws:
        logistic = ws.runs.train().run.id
        assert ws.models.register(logistic, name="credit").version.ref == LOGISTIC
    set_tables(root, {"training": TRAINING})


@pytest.fixture(name="served_dir")
def _served_dir(
    served_template: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Path:
    """A fresh copy of the workspace with both versions (real stores, empty log)."""
    target = tmp_path / "ws"
    shutil.copytree(served_template, target)
    return on_backend(target, backend, request)


@pytest.fixture(name="sws")
def _sws(served_dir: Path) -> Iterator[Workspace]:
    with Workspace.open(served_dir) as ws:
        yield ws


def log_predictions(
    ws: Workspace,
    ref: str,
    frame: pd.DataFrame,
    *,
    endpoint: str = "credit",
    request_ids: Sequence[str] | None = None,
    at: datetime | None = None,
    role: str = "production",
    revision: int | None = 1,
) -> list[str]:
    """Predict ``frame`` with ``ref`` and log one record per row through the real writer
    (sync mode, so the records are on disk when this returns); returns the request ids."""
    loaded = ws.models.load(ref)
    inputs = frame[loaded.input_columns]
    outputs = output_dicts(predict_table(loaded.pipeline, inputs, loaded.version.output))
    ids = list(request_ids) if request_ids is not None else [new_id("req_") for _ in frame.index]
    start = at or datetime.now(UTC)
    rows: list[dict[str, Any]] = inputs.to_dict("records")
    records = [
        PredictionRecord(
            request_id=ids[i],
            timestamp=start + timedelta(milliseconds=i),
            endpoint=endpoint,
            revision=revision,
            model_version=ref,
            role=role,  # type: ignore[arg-type]
            feature_set_version=loaded.version.feature_set_version,
            snapshot=loaded.version.snapshot_ref,
            inputs={str(k): v for k, v in rows[i].items()},
            outputs=outputs[i],
            latency_ms=0.5,
        )
        for i in range(len(frame))
    ]
    with ws.predictions.open_log(mode="sync") as plog:
        plog.log_many(records)
    return ids
