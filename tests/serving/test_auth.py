"""Access control over HTTP: tokens, roles, ownership, and what stays public."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.serving.http.worker_state import ServingRuntime
from stead.workspace import Workspace
from tests.serving.deployed import RECORD, TREES, serving

PREDICT = "/v1/endpoints/credit/predict"


@pytest.fixture
def tokens(dep_dir: Path) -> dict[str, str]:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with Workspace.open(dep_dir, actor="root") as ws:  # only an admin issues tokens
        made = {
            "viewer": ws.tokens.create(name="dash", role="viewer").secret,
            "predictor": ws.tokens.create(name="app", role="predictor").secret,
            "deployer": ws.tokens.create(name="ci", role="deployer", team="risk-team").secret,
            "stranger": ws.tokens.create(name="other-ci", role="deployer", team="growth").secret,
            "admin": ws.tokens.create(name="ops", role="admin").secret,
        }
        revoked = ws.tokens.create(name="old", role="admin")
        ws.tokens.revoke(revoked.token.id)
        made["revoked"] = revoked.secret
    return made


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_refusal_is_401_or_403_with_a_clear_message(
    dep_dir: Path, tokens: dict[str, str]
) -> None:
    with serving(dep_dir, auth=True) as client:
        anonymous = client.post(PREDICT, json={"records": [RECORD]})
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"]["code"] == "unauthenticated"
        assert "Authorization: Bearer" in anonymous.json()["error"]["message"]
        for path in ("/v1/endpoints", "/v1/endpoints/credit", "/metrics", "/v2/models/credit"):
            assert client.get(path).status_code == 401, path
        assert client.post(PREDICT, json={}, headers=bearer(tokens["revoked"])).status_code == 401
        assert client.post(PREDICT, json={}, headers=bearer("stead_nope_x")).status_code == 401
        viewer = client.post(PREDICT, json={"records": [RECORD]}, headers=bearer(tokens["viewer"]))
        assert viewer.status_code == 403
        assert viewer.json()["error"]["message"] == (
            "token 'dash' has role viewer; this needs role predictor (a token of role "
            "predictor, deployer or admin)"
        )
        assert client.get("/v1/endpoints", headers=bearer(tokens["viewer"])).status_code == 200
        assert client.get("/metrics", headers=bearer(tokens["viewer"])).status_code == 200
        answer = client.post(
            PREDICT, json={"records": [RECORD]}, headers=bearer(tokens["predictor"])
        )
        assert answer.status_code == 200
        change = {"action": "shadow", "model": "credit@2"}
        deploy = "/v1/endpoints/credit/deployments"
        assert (
            client.post(deploy, json=change, headers=bearer(tokens["predictor"])).status_code == 403
        )
        stranger = client.post(deploy, json=change, headers=bearer(tokens["stranger"]))
        assert stranger.status_code == 403
        assert (
            "'token:other-ci' may not change endpoint credit" in stranger.json()["error"]["message"]
        )
        owner = client.post(deploy, json=change, headers=bearer(tokens["deployer"]))
        assert owner.status_code == 201
        assert owner.json()["deployment"]["actor"] == "token:ci"
        override = {"action": "canary", "model": "credit@3", "override": True, "reason": "x"}
        assert (
            client.post(deploy, json=override, headers=bearer(tokens["deployer"])).status_code
            == 403
        )
        admin = client.post(deploy, json=override, headers=bearer(tokens["admin"]))
        assert admin.status_code == 201 and admin.json()["deployment"]["override"] is True
        back = client.post(
            "/v1/endpoints/credit/rollback", json={}, headers=bearer(tokens["stranger"])
        )
        assert back.status_code == 403


def test_health_and_the_api_document_stay_public(dep_dir: Path, tokens: dict[str, str]) -> None:
    with serving(dep_dir, auth=True) as client:
        for path in ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready", "/openapi.json"):
            assert client.get(path).status_code == 200, path


def test_auth_is_on_by_default_beyond_loopback(dep_dir: Path) -> None:
    assert ServingRuntime(dep_dir, open_workspace=Workspace.open, host="0.0.0.0").auth_required
    assert not ServingRuntime(
        dep_dir, open_workspace=Workspace.open, host="127.0.0.1"
    ).auth_required
    assert ServingRuntime(
        dep_dir, open_workspace=Workspace.open, host="127.0.0.1", auth=True
    ).auth_required
