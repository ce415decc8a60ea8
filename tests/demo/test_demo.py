from __future__ import annotations

import json
from pathlib import Path

import pytest

from stead.demo.credit import DRIFT_STARTS, generate_applications
from stead.workspace import Workspace

from ..conftest import run_stead


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
def test_make_demo_story_runs_as_a_real_command(tmp_path: Path) -> None:
    done = run_stead(
        "demo", "--dir", str(tmp_path / "demo"), "--fast", "--json", cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)["facts"]
    assert facts["audit_ok"] is True
    assert facts["leakage_caught"] is True
    assert facts["gate_failed_first"] is True
    assert facts["train_auc"] > facts["baseline_auc"]
    assert facts["gate_passed"] is True and facts["sticky"] is True and facts["failed"] == 0
    assert "income" in facts["drifted"] and facts["webhook_alerts"] >= 1
    assert facts["triggers"] == ["done"] and facts["production"] == facts["candidates"][-1]
    with Workspace.open(tmp_path / "demo") as ws:
        assert ws.models.production("credit").ref == facts["production"]
        assert {"investigate", "retrain"} <= {a.signal for a in ws.monitors.alerts("credit")}
        assert [t.status for t in ws.monitors.triggers("credit")] == ["done"]
        assert any(e.action == "retrain.register" for e in ws.audit.events(action="retrain"))
        assert (tmp_path / "demo" / "monitoring-report.html").stat().st_size > 10_000
    with Workspace.open(tmp_path / "demo") as ws:
        assert ws.datasets.get(facts["snapshot"]).schema.with_role("pii") == ["name", "email"]
        assert ws.audit.verify().ok
    again = run_stead(
        "demo", "--dir", str(tmp_path / "demo"), "--fast", "--json", cwd=tmp_path, timeout=300
    )
    assert again.returncode == 0, again.stderr


def test_the_demo_refuses_to_overwrite_a_workspace_it_did_not_create(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "mine")
    done = run_stead("demo", "--dir", str(tmp_path / "mine"), "--fast", cwd=tmp_path)
    assert done.returncode == 2 and "did not create" in done.stderr
    assert (tmp_path / "mine" / "stead.toml").exists()
