"""``stead retrain list`` and ``stead retrain release`` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stead.monitoring.records import RetrainTrigger
from stead.workspace import Workspace
from tests.conftest import Cli, run_stead


def _claimed(ws_dir: Path) -> RetrainTrigger:
    with Workspace.open(ws_dir) as ws:
        trigger, _ = ws.monitors.triggers_store.create(
            endpoint="credit", kind="manual", reason="new data", evidence={}
        )
        claimed, _ = ws.monitors.leases.claim(trigger.id)
        return claimed


def test_list_shows_the_holder_and_release_refuses_a_live_lease_without_force(
    cli: Cli, ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAD_NOW", "2026-07-01T12:00:00Z")
    trigger = _claimed(ws_dir)
    _, out, _ = cli("retrain", "list")
    assert trigger.id in out and "processing" in out and "live" in out
    assert "tester on" in out and "2026-07-01 13:00:00Z" in out
    _, body, _ = cli("retrain", "list", "credit", "--json")
    assert json.loads(body)[0]["state"] == "live"

    _, _, err = cli("retrain", "release", trigger.id, "--reason", "stuck", expect=4)
    assert "--force" in err
    _, out, _ = cli("retrain", "release", trigger.id, "--reason", "worker drained", "--force")
    assert f"released retrain trigger {trigger.id}" in out and "pending" in out
    _, body, _ = cli("retrain", "list", "--status", "pending", "--json")
    assert [t["trigger"] for t in json.loads(body)] == [trigger.id]


@pytest.mark.slow  # a real process end to end; in-process tests cover the logic
def test_an_expired_lease_is_released_without_force_in_a_real_subprocess(
    ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEAD_NOW", "2026-07-01T12:00:00Z")
    trigger = _claimed(ws_dir)
    later = {"STEAD_NOW": "2026-07-01T14:00:00Z"}
    listed = run_stead("retrain", "list", cwd=ws_dir, env=later)
    assert listed.returncode == 0 and "expired" in listed.stdout
    released = run_stead(
        "retrain", "release", trigger.id, "--reason", "worker died", cwd=ws_dir, env=later
    )
    assert released.returncode == 0, released.stderr
    with Workspace.open(ws_dir) as ws:
        event = ws.audit.events(action="retrain.release")[-1]
    assert event.details["lease_state"] == "expired" and event.details["forced"] is False
