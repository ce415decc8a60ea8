"""Feedback over HTTP: only a labeler token of the owning team (or an admin) labels,
corrections are explicit, and everything is audited as the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.workspace import Workspace
from tests.serving.deployed import TREES, serving
from tests.serving.served import log_predictions
from tests.training.projects import credit_frame

FEEDBACK = "/v1/endpoints/credit/feedback"
MEMBERS = ("tester", "alice", "mallory", "root")


@pytest.fixture
def labelled(dep_dir: Path) -> tuple[dict[str, str], list[str]]:
    """``credit`` deployed (owned by risk-team), two logged predictions, and tokens."""
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
        ids = log_predictions(ws, TREES, credit_frame(2, seed=5))
    with Workspace.open(dep_dir, actor="root") as ws:  # the admin
        tokens = {
            "predictor": ws.tokens.create(name="app", role="predictor").secret,
            "deployer": ws.tokens.create(name="ci", role="deployer", team="risk-team").secret,
            "labeler": ws.tokens.create(name="labels", role="labeler", team="risk-team").secret,
            "stranger": ws.tokens.create(name="g-labels", role="labeler", team="growth").secret,
            "admin": ws.tokens.create(name="ops", role="admin").secret,
        }
    return tokens, ids


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_only_a_labeler_of_the_owning_team_or_an_admin_sends_labels(
    dep_dir: Path, labelled: tuple[dict[str, str], list[str]]
) -> None:
    tokens, (first, second) = labelled
    body = {"request_id": first, "label": 1}
    with serving(dep_dir, auth=True) as client:
        predictor = client.post(FEEDBACK, json=body, headers=bearer(tokens["predictor"]))
        deployer = client.post(FEEDBACK, json=body, headers=bearer(tokens["deployer"]))
        stranger = client.post(FEEDBACK, json=body, headers=bearer(tokens["stranger"]))
        labeler = client.post(FEEDBACK, json=body, headers=bearer(tokens["labeler"]))
        admin = client.post(
            FEEDBACK, json={"request_id": second, "label": 0}, headers=bearer(tokens["admin"])
        )

    assert predictor.status_code == deployer.status_code == stranger.status_code == 403
    assert predictor.json()["error"]["message"] == (
        "token 'app' has role predictor; this needs role labeler (a token of role labeler or admin)"
    )
    refusal = stranger.json()["error"]["message"]
    assert "'token:g-labels' may not send feedback for endpoint credit" in refusal
    assert "owned by 'risk-team'" in refusal
    assert not any(member in stranger.text for member in MEMBERS)
    assert labeler.status_code == 200 and labeler.json()["stored"] == 1
    assert admin.status_code == 200 and admin.json()["stored"] == 1
    with Workspace.open(dep_dir) as ws:
        assert [(e.action, e.actor) for e in ws.audit.events(action="feedback.")] == [
            ("feedback.refused", "token:g-labels"),
            ("feedback.record", "token:labels"),
            ("feedback.record", "token:ops"),
        ]
        assert [h["recorded_by"] for h in ws.feedback.history("credit", first)] == ["token:labels"]


def test_a_label_changes_only_by_an_explicit_correction_audited_as_the_token(
    dep_dir: Path, labelled: tuple[dict[str, str], list[str]]
) -> None:
    tokens, (first, _) = labelled
    labeler = bearer(tokens["labeler"])
    with serving(dep_dir, auth=True) as client:
        first_label = client.post(FEEDBACK, json={"request_id": first, "label": 0}, headers=labeler)
        relabel = client.post(FEEDBACK, json={"request_id": first, "label": 1}, headers=labeler)
        no_reason = client.post(
            FEEDBACK, json={"request_id": first, "label": 1, "correct": True}, headers=labeler
        )
        not_a_flag = client.post(
            FEEDBACK, json={"request_id": first, "label": 1, "correct": "yes"}, headers=labeler
        )
        corrected = client.post(
            FEEDBACK,
            json={"request_id": first, "label": 1, "correct": True, "reason": "paid late"},
            headers=labeler,
        )

    assert first_label.status_code == 200
    assert relabel.status_code == 409
    assert '"correct": true' in relabel.json()["error"]["message"]
    assert no_reason.status_code == 400 and 'needs \\"reason\\"' in no_reason.text
    assert not_a_flag.status_code == 400
    assert not_a_flag.json()["error"]["details"]["errors"][0]["field"] == "correct"
    assert corrected.status_code == 200 and corrected.json()["corrected"] == 1
    with Workspace.open(dep_dir) as ws:
        [event] = ws.audit.events(action="feedback.correct")
        assert ws.feedback.read("credit")["label"].tolist() == [1]
    assert (event.actor, event.reason) == ("token:labels", "paid late")
    assert event.details["before"]["label"] == 0 and event.details["after"] == {"label": 1}


def test_a_refused_deployment_does_not_list_the_owning_team(
    dep_dir: Path, labelled: tuple[dict[str, str], list[str]]
) -> None:
    with Workspace.open(dep_dir, actor="root") as ws:
        other = ws.tokens.create(name="g-ci", role="deployer", team="growth").secret
    with serving(dep_dir, auth=True) as client:
        refused = client.post(
            "/v1/endpoints/credit/deployments",
            json={"action": "shadow", "model": "credit@2"},
            headers=bearer(other),
        )
    assert refused.status_code == 403
    assert "owned by 'risk-team'" in refused.json()["error"]["message"]
    assert not any(member in refused.text for member in MEMBERS)
