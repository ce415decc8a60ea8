from __future__ import annotations

from pathlib import Path

import pytest

from stead.demo import story
from stead.demo.credit import DRIFT_STARTS, generate_applications
from stead.workspace import Workspace

from ..conftest import run_stead
from .demo_run import DemoRun, copy_of


def test_the_generator_is_seeded_and_drifts_from_month_seven() -> None:
    one = generate_applications(months=range(6, 8), per_month=300)
    two = generate_applications(months=range(6, 8), per_month=300)
    assert one.equals(two)
    month = (one["applied_at"] - one["applied_at"].min()).dt.days // 30 + 6
    before, after = one[month < DRIFT_STARTS], one[month >= DRIFT_STARTS]
    assert "mobile" not in set(before["channel"]) and "mobile" in set(after["channel"])
    assert after["income"].median() < 0.85 * before["income"].median()
    assert (one["label_known_at"] - one["applied_at"]).dt.days.eq(60).all()
    assert (one.loc[one["defaulted"] == 0, "loss_amount"] == 0).all()


@pytest.mark.slow
def test_make_demo_story_runs_as_a_real_command(demo_run: DemoRun) -> None:
    facts, root = demo_run.facts, demo_run.root
    assert facts["audit_ok"] is True
    assert facts["leakage_caught"] is True
    assert facts["gate_failed_first"] is True
    assert facts["train_auc"] > facts["baseline_auc"]
    assert facts["gate_passed"] is True and facts["sticky"] is True and facts["failed"] == 0
    assert "income" in facts["drifted"] and facts["webhook_alerts"] >= 1
    assert facts["triggers"] == ["done"] and facts["production"] == facts["candidates"][-1]
    with Workspace.open(root) as ws:
        assert ws.models.production("credit").ref == facts["production"]
        assert {"investigate", "retrain"} <= {a.signal for a in ws.monitors.alerts("credit")}
        assert [t.status for t in ws.monitors.triggers("credit")] == ["done"]
        assert any(e.action == "retrain.register" for e in ws.audit.events(action="retrain"))
        assert (root / "monitoring-report.html").stat().st_size > 10_000
    with Workspace.open(root) as ws:
        assert ws.datasets.get(facts["snapshot"]).schema.with_role("pii") == ["name", "email"]
        assert ws.audit.verify().ok


@pytest.mark.slow
def test_the_demo_replaces_a_workspace_it_created(
    demo_run: DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Running the whole story a second time would only repeat the run above: what a
    # re-run adds is that the demo accepts its own workspace and starts it afresh.
    root = copy_of(demo_run, tmp_path / "demo")
    started: list[tuple[Path, bool]] = []

    class Started:
        def __init__(self, at: Path, *, fast: bool, say: object) -> None:
            started.append((at, at.exists()))

        def run(self) -> str:
            return "ran"

    monkeypatch.setattr(story, "Story", Started)
    assert story.run_demo(root, fast=True) == "ran"
    assert started == [(root.resolve(), False)]


def test_the_demo_refuses_to_overwrite_a_workspace_it_did_not_create(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "mine")
    done = run_stead("demo", "--dir", str(tmp_path / "mine"), "--fast", cwd=tmp_path)
    assert done.returncode == 2 and "did not create" in done.stderr
    assert (tmp_path / "mine" / "stead.toml").exists()
