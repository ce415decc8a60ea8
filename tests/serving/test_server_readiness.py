"""Readiness tells the truth: a replica that cannot load what is deployed is not ready,
says why to those who may know, and only ready-or-not to anyone else."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.serving.deployed import LOGISTIC, RECORD, TREES, serving
from tests.training.projects import set_tables


def model_file(root: Path, ref: str) -> Path:
    with Workspace.open(root) as ws:
        version = ws.models.get(ref)
        path = ws.artifacts.local_path(version.artifacts["model"])
    assert path is not None
    os.chmod(path, 0o644)  # artifacts are written read-only
    return path


def alter(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_tampered_artifact_makes_the_replica_not_ready(
    dep_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    alter(model_file(dep_dir, TREES))
    with caplog.at_level(logging.WARNING, "stead.serving"), serving(dep_dir) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["ready"] is False and body["endpoints"] == {}
        assert body["reason"] == "1 of 1 deployed endpoints are not loaded"
        assert "was altered" in body["problems"]["credit"]
        oip = client.get("/v2/health/ready")
        assert (oip.status_code, oip.json()) == (503, {"ready": False})
        # And the refusal stands: predict cannot be answered either.
        assert (
            client.post("/v1/endpoints/credit/predict", json={"records": [RECORD]}).status_code
            == 503
        )
    assert any(
        "endpoint credit is not loaded" in r.getMessage() and "altered" in r.getMessage()
        for r in caplog.records
    )


def test_a_model_that_fails_to_load_is_not_ready_unless_any_endpoint_will_do(
    dep_dir: Path,
) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
        ws.endpoints.deploy("second", TREES)
        ws.endpoints.canary("second", LOGISTIC, share=20, reason="try it")
    model_file(dep_dir, LOGISTIC).unlink()
    with serving(dep_dir) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["endpoints"] == {"credit": 1}
        assert set(body["problems"]) == {"second"} and LOGISTIC in body["problems"]["second"]
        assert client.get("/v2/health/ready").status_code == 503
    set_tables(dep_dir, {"serving": {"ready_when": "any"}})
    with serving(dep_dir) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True and set(ready.json()["problems"]) == {"second"}
        assert client.get("/v2/health/ready").json() == {"ready": True}


def test_readiness_shows_names_and_revisions_only_to_a_viewer(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with Workspace.open(dep_dir, actor="root") as ws:
        viewer = ws.tokens.create(name="dash", role="viewer").secret
    with serving(dep_dir, auth=True) as client:
        anonymous = client.get("/readyz")
        assert (anonymous.status_code, anonymous.json()) == (200, {"ready": True})
        wrong = client.get("/readyz", headers={"Authorization": "Bearer stead_nope_x"})
        assert wrong.json() == {"ready": True}
        shown = client.get("/readyz", headers={"Authorization": f"Bearer {viewer}"})
        assert shown.json() == {"ready": True, "endpoints": {"credit": 1}}
