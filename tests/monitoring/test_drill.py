"""``rollback --drill``: back to the previous revision and forward, both checked, recorded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stead.core.errors import Conflict
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT
from tests.training.projects import set_tables


def second_version(root: Path) -> str:
    """Train, register, reproduce, promote and deploy credit@2 (revision 2)."""
    with Workspace.open(root) as ws:
        run = ws.runs.train(seed=8).run
        ref = ws.models.register(run.id, name="credit").version.ref
        ws.runs.reproduce(run.id)
        ws.models.promote(ref, to="production", reason="second model")
        ws.endpoints.deploy(ENDPOINT, ref, reason="second model")
    return ref


def test_a_drill_rolls_back_and_forward_checking_both_and_records_the_evidence(
    monitored_dir: Path,
) -> None:
    ref = second_version(monitored_dir)
    with Workspace.open(monitored_dir) as ws:
        drill = ws.monitors.rollback_drill(ENDPOINT)
        history = ws.endpoints.history(ENDPOINT)
        after = {i.key: i for i in ws.models.checklist(ref).after}
    assert drill.passed, drill.message
    assert [(c.step, c.expected, c.answered) for c in drill.checks] == [
        ("rolled back", "credit@1", 50),
        ("rolled forward", ref, 50),
    ]
    assert [(d.revision, d.action, d.restores, d.production) for d in history[2:]] == [
        (3, "rollback", 1, "credit@1"),
        (4, "rollback", 2, ref),
    ]
    assert all("rollback drill of revision 2" in (d.reason or "") for d in history[2:])
    assert after["rollback_verified"].status == "pass"
    assert "rollback drill on credit passed" in after["rollback_verified"].detail


def test_a_drill_after_an_ended_canary_never_brings_the_canary_back(monitored_dir: Path) -> None:
    ref = second_version(monitored_dir)
    with Workspace.open(monitored_dir) as ws:
        run = ws.runs.train(seed=9).run
        canary = ws.models.register(run.id, name="credit").version.ref
        ws.runs.reproduce(run.id)
        ws.models.promote(canary, to="staging", reason="try it")
        ws.endpoints.canary(ENDPOINT, canary, share=20, reason="try it")
        ws.endpoints.end_canary(ENDPOINT, reason="it answered worse")
        drill = ws.monitors.rollback_drill(ENDPOINT)
        history = ws.endpoints.history(ENDPOINT)
    assert drill.passed, drill.message
    # Revision 3 (the canary) is the one just before; the drill skips it for credit@1.
    assert [
        (d.revision, d.restores, d.policy.production, d.policy.canary) for d in history[4:]
    ] == [
        (5, 1, "credit@1", None),
        (6, 4, ref, None),
    ]
    assert drill.previous_serving.startswith("production credit@1,")
    assert "canary" not in drill.previous_serving and "canary" not in drill.serving
    assert "previous production (production credit@1" in drill.message


def test_a_drill_needs_a_previous_production_version(mws: Workspace) -> None:
    ref = mws.endpoints.get(ENDPOINT).policy.production
    mws.endpoints.deploy(ENDPOINT, ref, reason="the same version again")
    with pytest.raises(Conflict, match="no earlier revision of credit serves another"):
        mws.monitors.rollback_drill(ENDPOINT)


def test_a_drill_needs_a_previous_revision(mws: Workspace) -> None:
    with pytest.raises(Conflict, match="needs a previous one"):
        mws.monitors.rollback_drill(ENDPOINT)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(monitored_dir: Path) -> Iterator[str]:
    """``stead serve`` as a real process on loopback, stopped (SIGTERM) afterwards."""
    # Drifted traffic carries a channel the contract never saw: answer it, report it.
    set_tables(monitored_dir, {"serving": {"out_of_range": "warn"}})
    text = (monitored_dir / "stead.toml").read_text()
    (monitored_dir / "stead.toml").write_text(
        text.replace('unseen_categories = "error"', 'unseen_categories = "warn"')
    )
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "stead", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=monitored_dir,
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode() if process.stderr else "")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow  # a real server process; the drills above cover the logic
def test_a_drill_against_a_running_server_waits_for_each_switch(
    monitored_dir: Path, server: str
) -> None:
    ref = second_version(monitored_dir)
    with Workspace.open(monitored_dir) as ws:
        drill = ws.monitors.rollback_drill(ENDPOINT, url=server)
    assert drill.passed, drill.message
    assert [(c.revision, c.versions) for c in drill.checks] == [(3, ["credit@1"]), (4, [ref])]
    assert drill.via == server
