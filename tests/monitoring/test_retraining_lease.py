"""Claims on retrain triggers are leases: one holder at a time, renewed while it works,
reclaimed when its process died, released by an operator only when it is safe."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stead.core.clock import parse_time, utcnow
from stead.core.errors import Conflict, SettingsError
from stead.monitoring.retraining.leases import LeaseLost
from stead.workspace import Workspace
from tests.monitoring.monitored import ENDPOINT, NOW
from tests.training.projects import set_tables

HOUR = timedelta(hours=1)


def _trigger(ws: Workspace) -> str:
    trigger, _ = ws.monitors.triggers_store.create(
        endpoint=ENDPOINT, kind="manual", reason="new data", evidence={}
    )
    return trigger.id


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setenv("STEAD_NOW", when.isoformat())


def _claim_in_process(root: str, trigger_id: str, actor: str, barrier: Any, out: Any) -> None:
    os.environ["STEAD_ACTOR"] = actor
    with Workspace.open(root) as ws:
        barrier.wait(timeout=120)
        try:
            ws.monitors.leases.claim(trigger_id)
            out.put((actor, "claimed"))
        except Conflict:
            out.put((actor, "refused"))


def _race(root: Path, trigger_id: str, racers: int) -> list[str]:
    """``racers`` processes claim the same trigger at once; the winners' actors."""
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(racers)
    out = spawn.Queue()
    procs = [
        spawn.Process(target=_claim_in_process, args=(str(root), trigger_id, f"p{i}", barrier, out))
        for i in range(racers)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return sorted(actor for actor, what in results if what == "claimed")


@pytest.mark.slow  # real processes racing, as tests/core/test_concurrency.py
def test_concurrent_processes_never_both_claim_nor_both_reclaim(
    any_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, NOW)
    trigger_id = _trigger(any_ws)
    root = any_ws.root

    assert len(_race(root, trigger_id, 4)) == 1
    # The winner's lease is live: a second wave takes nothing ...
    _at(monkeypatch, NOW + 59 * timedelta(minutes=1))
    assert _race(root, trigger_id, 3) == []
    # ... and once it expired, exactly one of many reclaims it.
    _at(monkeypatch, NOW + 2 * HOUR)
    assert len(_race(root, trigger_id, 4)) == 1
    reclaims = any_ws.audit.events(action="retrain.reclaim")
    assert len(reclaims) == 1 and reclaims[0].details["previous_holder"].startswith("p")
    assert any_ws.monitors.leases.get(trigger_id).claims == 2


def test_a_live_lease_is_not_stolen_and_an_operator_release_needs_force(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, NOW)
    trigger_id = _trigger(ws)
    claimed, lease = ws.monitors.leases.claim(trigger_id)
    assert claimed.expires_at == NOW + HOUR and claimed.lease_state(NOW) == "live"
    with pytest.raises(Conflict, match="a live lease is not taken over"):
        ws.monitors.leases.claim(trigger_id)
    with pytest.raises(Conflict, match=r"still running.*--force"):
        ws.monitors.release(trigger_id, reason="looks stuck")

    released = ws.monitors.release(trigger_id, reason="host is being drained", force=True)
    assert released.status == "pending" and released.lease_state(NOW) == "none"
    event = ws.audit.events(action="retrain.release")[-1]
    assert event.reason == "host is being drained" and event.details["forced"] is True
    assert event.details["previous_holder"] == "tester"
    # The released holder may not carry on over the next one's work.
    with pytest.raises(LeaseLost):
        ws.monitors.leases.step(lease, "train", {})
    with pytest.raises(Conflict, match="no claim to release"):
        ws.monitors.release(trigger_id, reason="again")


def test_a_slow_holder_whose_lease_was_reclaimed_stops_at_its_next_step(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, NOW)
    trigger_id = _trigger(ws)
    _, slow = ws.monitors.leases.claim(trigger_id)
    ws.monitors.leases.step(slow, "snapshot", {"rows": 1})
    _at(monkeypatch, NOW + 2 * HOUR)
    _, fresh = ws.monitors.leases.claim(trigger_id)
    assert fresh.reclaimed_from == "tester"
    with pytest.raises(LeaseLost, match="no longer holds"):
        ws.monitors.leases.step(slow, "train", {})
    with pytest.raises(LeaseLost):
        ws.monitors.leases.finish(slow, "done", {})
    done = ws.monitors.leases.finish(fresh, "no_change", {"message": "nothing new"})
    assert done.status == "no_change"


def test_steps_and_a_background_keeper_renew_the_lease(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, NOW)
    leases = ws.monitors.leases
    trigger_id = _trigger(ws)
    _, lease = leases.claim(trigger_id)
    _at(monkeypatch, NOW + 40 * timedelta(minutes=1))
    leases.step(lease, "snapshot", {})
    assert leases.get(trigger_id).expires_at == NOW + 100 * timedelta(minutes=1)

    _at(monkeypatch, NOW + 90 * timedelta(minutes=1))
    with leases.kept(lease, every=timedelta(seconds=0.05)) as keeper:
        deadline = time.monotonic() + 10
        while keeper.renewals == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert keeper.renewals >= 1 and keeper.lost is None
    assert leases.get(trigger_id).expires_at == NOW + 150 * timedelta(minutes=1)
    assert ws.audit.events(action="retrain.renew")


def test_a_crashed_holder_is_reclaimed_and_the_trigger_finished(
    monitored_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Workspace.open(monitored_dir) as ws:
        trigger_id = _trigger(ws)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from stead.workspace import Workspace\n"
            "with Workspace.open(sys.argv[1]) as ws:\n"
            "    ws.monitors.leases.claim(sys.argv[2])\n"
            "print('claimed', flush=True)\n"
            "time.sleep(600)\n",
            str(monitored_dir),
            trigger_id,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "STEAD_ACTOR": "worker-1"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "claimed"
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # the crash: no cleanup runs
        holder.wait(timeout=30)

    with Workspace.open(monitored_dir) as ws:
        stuck = ws.monitors.leases.get(trigger_id)
        assert stuck.lease_state(utcnow()) == "live" and stuck.holder == "worker-1"
        assert stuck.holder_alive is False
        # Until the lease runs out nobody takes it, not even `--pending`.
        with pytest.raises(Conflict, match="that process is gone"):
            ws.monitors.process(trigger_id)
    _at(monkeypatch, NOW + 2 * HOUR)
    with Workspace.open(monitored_dir) as ws:
        [finished] = ws.monitors.process_pending(ENDPOINT)
        reclaim = ws.audit.events(action="retrain.reclaim")
        listed = ws.monitors.leases.get(trigger_id)
    assert finished.id == trigger_id
    assert finished.status == "no_change", finished.error
    assert finished.outcome["reclaimed_from"] == "worker-1"
    assert [e.subject for e in reclaim] == [f"trigger:{trigger_id}"]
    assert reclaim[0].details["previous_holder"] == "worker-1"
    assert reclaim[0].details["previous_holder_alive"] is False
    assert listed.claims == 2 and listed.lease_state(NOW + 2 * HOUR) == "none"


def test_the_monitor_reclaims_an_expired_trigger_when_it_processes_automatically(
    monitored_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_tables(monitored_dir, {"retraining": {"automatic": True, "lease": "30m"}})
    with Workspace.open(monitored_dir) as ws:
        trigger_id = _trigger(ws)
        ws.monitors.leases.claim(trigger_id)  # and then this "process" is gone
    _at(monkeypatch, NOW + HOUR)
    with Workspace.open(monitored_dir) as ws:
        run = ws.monitors.run(ENDPOINT, until=NOW)
    assert [t.id for t in run.triggers if t.id == trigger_id] == [trigger_id]
    assert {t.status for t in run.triggers if t.id == trigger_id} <= {"done", "no_change"}


def test_the_lease_length_is_a_retraining_setting(ws_dir: Path) -> None:
    set_tables(ws_dir, {"retraining": {"lease": "10s"}})
    with pytest.raises(SettingsError, match="lease"):
        Workspace.open(ws_dir)
    set_tables(ws_dir, {"retraining": {"lease": "2h"}})
    with Workspace.open(ws_dir) as ws:
        assert ws.monitors.leases.length == 2 * HOUR


def test_release_and_list_show_who_held_what(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, NOW)
    trigger_id = _trigger(ws)
    ws.monitors.leases.claim(trigger_id)
    [listed] = ws.monitors.triggers(ENDPOINT)
    assert listed == ws.monitors.leases.get(trigger_id)
    body = listed.to_dict()["lease"]
    assert body["state"] == "live" and body["holder"] == "tester"
    assert parse_time(body["lease_until"]) == NOW + HOUR and body["holder_alive"] is True
    assert listed.to_dict(at=NOW + 2 * HOUR)["lease"]["state"] == "expired"
    assert listed.lease_summary(NOW)["trigger"] == trigger_id
