"""``ws.predictions`` and the ``[serving.log]`` settings it is configured by."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.core.settings import settings_from_mapping
from stead.serving.settings import PredictionLogSettings, serving_settings
from stead.workspace import Workspace

from .records import make_record


def configure(ws_dir: Path, extra: str) -> None:
    path = ws_dir / "stead.toml"
    text = path.read_text().replace(
        "[columns]\n", '[columns]\nid = "customer_id"\npii = ["email", "customer_id"]\n'
    )
    path.write_text(text + extra)


def test_the_log_lives_in_the_state_dir_and_reads_back(ws: Workspace) -> None:
    predictions = ws.predictions
    assert predictions.directory == ws.settings.state_dir / "predictions"
    with predictions.open_log() as plog:
        plog.log_many(make_record(i) for i in range(3))
    frame = predictions.read("credit", "2026-03-01", "2026-03-02")
    assert list(frame["request_id"]) == ["req-000000", "req-000001", "req-000002"]
    assert [r.request_id for r in predictions.records("credit")] == list(frame["request_id"])


def test_pii_from_the_column_roles_is_hashed_with_a_private_workspace_key(ws_dir: Path) -> None:
    configure(ws_dir, "")
    with Workspace.open(ws_dir) as ws:
        predictions = ws.predictions
        with predictions.open_log() as plog:
            plog.log(make_record(0, entity_key="customer-42"))
        key = ws.settings.state_dir / "pii_hash_key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        stored = b"".join(p.read_bytes() for p in predictions.directory.rglob("*.parquet"))
        assert b"user0@example.com" not in stored and b"customer-42" not in stored
        frame = predictions.read("credit")
        assert len(frame["inputs.email"][0]) == 64
        assert frame["entity_key"][0] == predictions.sanitizer().hash_value("customer-42")


def test_settings_choose_drop_sync_mode_and_another_directory(ws_dir: Path) -> None:
    configure(ws_dir, '\n[serving.log]\npii = "drop"\nmode = "sync"\ndir = "logs/predictions"\n')
    with Workspace.open(ws_dir) as ws:
        predictions = ws.predictions
        with predictions.open_log() as plog:
            assert plog.mode == "sync"
            plog.log(make_record(0))
        assert predictions.directory == ws_dir / "logs" / "predictions"
        assert "inputs.email" not in predictions.read("credit").columns
        # Nothing was hashed, so no key was needed or created.
        assert not (ws.settings.state_dir / "pii_hash_key").exists()


def test_environment_variables_override_the_table(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"serving": {"log": {"mode": "sync"}}})
    env = {"STEAD_SERVING_LOG_MODE": "async", "STEAD_SERVING_LOG_FLUSH_INTERVAL": "0.25"}
    log = serving_settings(settings, env=env).log
    assert (log.mode, log.flush_interval) == ("async", 0.25)
    assert serving_settings(settings_from_mapping(tmp_path, {}), env={}).log == (
        PredictionLogSettings()
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"log": {"mode": "later"}}, r"\[serving\].log mode = 'later' is not allowed"),
        ({"log": {"flush_interval": 0}}, "flush_interval"),
        ({"log": {"batch_size": 100, "capacity": 10}}, "capacity"),
        ({"log": {"pii": "mask"}}, "'hash', 'drop'"),
        ({"log": {"flush": 1}}, "unknown key 'flush'"),
        ({"log": "sync"}, "must be a table"),
    ],
)
def test_bad_settings_say_which_key_and_what_is_allowed(
    tmp_path: Path, table: dict, message: str
) -> None:
    settings = settings_from_mapping(tmp_path, {"serving": table})
    with pytest.raises(SettingsError, match=message):
        serving_settings(settings, env={})
