"""``STEAD_AUTH_*`` and ``STEAD_RETENTION_*`` override stead.toml; ``[teams]`` is file-only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.core.settings import settings_from_mapping
from stead.security.settings import auth_settings, teams
from stead.workspace import Workspace
from tests.monitoring.monitored import NOW
from tests.serving.deployed import RECORD, TREES, serving
from tests.training.projects import set_tables

PREDICT = "/v1/endpoints/credit/predict"


def test_stead_auth_enabled_turns_token_checks_on_and_off_for_a_served_app(
    dep_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    # The file says "auto": on loopback, no token is needed ...
    with serving(dep_dir) as client:
        assert client.post(PREDICT, json={"records": [RECORD]}).status_code == 200
    # ... unless the environment forces checks on,
    monkeypatch.setenv("STEAD_AUTH_ENABLED", "true")
    with serving(dep_dir) as client:
        assert client.post(PREDICT, json={"records": [RECORD]}).status_code == 401
    # and beyond loopback they are on unless the environment turns them off.
    monkeypatch.setenv("STEAD_AUTH_ENABLED", "false")
    with serving(dep_dir, host="0.0.0.0") as client:
        assert client.post(PREDICT, json={"records": [RECORD]}).status_code == 200


def test_stead_auth_admins_replaces_the_admins(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tables(ws_dir, {"auth": {"admins": ["alice"]}})
    monkeypatch.setenv("STEAD_AUTH_ADMINS", '["bob"]')
    with Workspace.open(ws_dir) as ws:
        assert ws.access.is_admin("bob")
        assert not ws.access.is_admin("alice")


def test_stead_retention_predictions_moves_the_cutoff(
    monitored_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tables(monitored_dir, {"retention": {"predictions": "90d"}})
    with Workspace.open(monitored_dir) as ws:
        from_file = ws.retention.apply(dry_run=True)
    monkeypatch.setenv("STEAD_RETENTION_PREDICTIONS", "30d")
    monkeypatch.setenv("STEAD_RETENTION_FEEDBACK", "60d")
    with Workspace.open(monitored_dir) as ws:
        overridden = ws.retention.apply(dry_run=True)
    assert from_file.predictions_before == NOW - timedelta(days=90)
    assert from_file.feedback_before is None
    assert overridden.predictions_before == NOW - timedelta(days=30)
    assert overridden.feedback_before == NOW - timedelta(days=60)
    assert overridden.prediction_rows > from_file.prediction_rows


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "STEAD_AUTH_ENABLED",
            "maybe",
            "STEAD_AUTH_ENABLED = 'maybe' is not allowed; "
            "expected one of 'auto', 'true', 'false' or true/false",
        ),
        (
            "STEAD_AUTH_ADMINS",
            "alice",
            "STEAD_AUTH_ADMINS = 'alice' is not allowed; expected a list",
        ),
        (
            "STEAD_RETENTION_PREDICTIONS",
            "forever",
            "[retention] (with STEAD_RETENTION_PREDICTIONS from the environment): "
            "predictions 'forever' is not a duration",
        ),
        (
            "STEAD_RETENTION_FEEDBACK",
            "365",
            "STEAD_RETENTION_FEEDBACK = 365 is not allowed; expected a string",
        ),
    ],
)
def test_a_wrong_variable_fails_when_the_workspace_opens(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    assert message in caught.value.message


def test_teams_are_read_from_the_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_mapping(tmp_path, {"teams": {"risk-team": ["alice"]}})
    monkeypatch.setenv("STEAD_TEAMS_RISK_TEAM", '["mallory"]')
    monkeypatch.setenv("STEAD_TEAMS_GROWTH", '["mallory"]')
    assert teams(settings).members == {"risk-team": ["alice"]}


def test_auth_reads_the_environment_it_is_given(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"auth": {"enabled": "auto"}})
    assert auth_settings(settings, env={}).required_for("0.0.0.0")
    assert not auth_settings(settings, env={"STEAD_AUTH_ENABLED": "false"}).required_for("0.0.0.0")
    assert auth_settings(settings, env={"STEAD_AUTH_ENABLED": "true"}).required_for("127.0.0.1")
