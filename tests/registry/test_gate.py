from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import GateFailed, PermissionDenied, UsageError
from stead.workspace import Workspace
from tests.training.projects import credit_frame, set_tables

from .governed import Runs, alter_artifact, open_as, ready


def test_a_ready_version_passes_every_before_deployment_item(reg: Workspace, runs: Runs) -> None:
    ref = ready(reg, runs.good)
    checklist = reg.models.checklist(ref)
    assert checklist.ready, checklist.to_dict()
    items = {i.key: i for i in checklist.items}
    assert "reproduced bit for bit" in items["reproducible"].detail
    assert "5 artifacts match their signed sha256" in items["signed_artifacts"].detail
    assert "covers all 3 inputs (income, age, region)" in items["schema_validation"].detail
    assert "1 alert sink(s) configured" in items["monitoring_hooks"].detail
    assert items["beats_baseline"].detail.startswith("roc_auc 0.8505 vs baseline 0.5000")
    assert "nothing to beat" in items["champion_challenger"].detail
    assert [i.status for i in checklist.after] == ["pending"] * 4


def test_promotion_to_production_fails_listing_every_failing_item(
    reg_dir: Path, runs: Runs
) -> None:
    # No reproduction yet, no monitoring or alerts configured, an unreachable margin.
    set_tables(
        reg_dir,
        {"monitoring": None, "alerts": None, "checklist": {"baseline_margin": 0.9}},
    )
    with Workspace.open(reg_dir) as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
        with pytest.raises(GateFailed) as failed:
            ws.models.promote(ref, to="production")
        message = failed.value.message
        assert message.startswith("credit@1 cannot be promoted to production: 3 checklist")
        assert "reproducible training [reproducible] (pending)" in message
        assert f"run `stead reproduce {runs.good}`" in message
        assert "no [monitoring] table" in message and "no alert sink" in message
        assert "does not beat the baseline by the margin 0.9" in message
        assert "--override --reason" in message
        assert set(failed.value.details["failing"]) == {
            "reproducible",
            "monitoring_hooks",
            "beats_baseline",
        }
        assert ws.models.get(ref).stage == "candidate"
        [refusal] = ws.audit.events(action="model.promote.refused")
        assert refusal.details["refused_by"] == "gate"
        assert set(refusal.details["failing"]) == {
            "reproducible",
            "monitoring_hooks",
            "beats_baseline",
        }
        # Staging is not gated.
        assert ws.models.promote(ref, to="staging").version.stage == "staging"


def test_an_admin_override_needs_a_reason_is_audited_and_stays_on_the_card(
    reg_dir: Path, runs: Runs
) -> None:
    with open_as(reg_dir, "tester") as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
        # An owner who is not an admin may not override.
        with pytest.raises(PermissionDenied, match="only an admin may"):
            ws.models.promote(ref, to="production", override=True, reason="trust me")
    with open_as(reg_dir, "root") as ws:
        with pytest.raises(UsageError, match="an override needs a reason"):
            ws.models.promote(ref, to="production", override=True, reason="  ")
        move = ws.models.promote(
            ref, to="production", override=True, reason="incident fix; reproduce tomorrow"
        )
        assert move.version.stage == "production"
        assert move.change.override and move.change.overridden == ["reproducible"]
        [event] = [
            e for e in ws.audit.events(action="model.promote") if e.action == "model.promote"
        ]
        assert event.actor == "root" and event.reason == "incident fix; reproduce tomorrow"
        assert event.details["override"] is True
        assert event.details["overridden"] == ["reproducible"]
        assert event.details["checklist"]["reproducible"] == "pending"
        # Long after, and after the version left production, the card still says so.
        ws.models.retire(ref, reason="replaced")
        card = ws.models.card(ref)
    overrides = card.section("Overrides")
    assert overrides.rows[0][1:] == [
        "root",
        "production",
        "reproducible",
        "incident fix; reproduce tomorrow",
    ]
    assert "incident fix; reproduce tomorrow" in card.to_markdown()


def test_a_challenger_worse_than_production_on_the_same_rows_is_refused(
    reg_dir: Path, runs: Runs
) -> None:
    with Workspace.open(reg_dir) as ws:
        champion = ready(ws, runs.good)
        ws.models.promote(champion, to="production")
        challenger = ready(ws, runs.weak)
        with pytest.raises(GateFailed, match="champion_challenger") as failed:
            ws.models.promote(challenger, to="production")
        detail = failed.value.details["failing"]["champion_challenger"]["detail"]
        assert "on 80 evaluation rows of credit@2: roc_auc 0.7389 vs production credit@1" in detail
        assert "0.8505" in detail and "worse than production by more than" in detail
        assert list(failed.value.details["failing"]) == ["champion_challenger"]
        assert ws.models.production("credit") == ws.models.get(champion)
    set_tables(reg_dir, {"checklist": {"champion_tolerance": 0.2}})
    with Workspace.open(reg_dir) as ws:
        item = {i.key: i for i in ws.models.checklist(challenger).items}["champion_challenger"]
        assert item.status == "pass" and item.facts and item.facts["tolerance"] == 0.2


def test_after_deployment_items_stay_pending_until_evidence_is_recorded(
    reg: Workspace, runs: Runs
) -> None:
    ref = ready(reg, runs.good)
    reg.models.promote(ref, to="production")
    before = {i.key: i for i in reg.models.checklist(ref).after}
    assert before["drift_detection"].status == "pending"
    assert before["drift_detection"].detail == "no evidence recorded yet"

    reg.models.record_evidence(
        ref,
        "drift_detection",
        passed=True,
        evidence="monitor credit-drift checked window 2026-01-05",
        details={"monitor": "credit-drift"},
    )
    reg.models.record_evidence(
        ref, "alerts_tested", passed=False, evidence="the pager sink returned 500"
    )
    after = {i.key: i for i in reg.models.checklist(ref).after}
    assert after["drift_detection"].status == "pass"
    assert after["drift_detection"].detail.startswith("monitor credit-drift checked window")
    assert after["alerts_tested"].status == "fail"
    assert after["rollback_verified"].status == "pending"
    [event, _] = reg.audit.events(action="model.evidence")
    assert event.subject == f"model:{ref}" and event.details["monitor"] == "credit-drift"
    with pytest.raises(UsageError, match="can be recorded for: drift_detection"):
        reg.models.record_evidence(ref, "vibes", passed=True, evidence="good")


def test_the_champion_is_never_scored_on_rows_it_was_trained_on(reg: Workspace, runs: Runs) -> None:
    champion = ready(reg, runs.good)
    reg.models.promote(champion, to="production")
    # Same data, another seed: another random split, so most of the challenger's
    # evaluation rows were training rows of the champion.
    other = reg.runs.train(seed=5).run
    challenger = ready(reg, other.id)
    item = {i.key: i for i in reg.models.checklist(challenger).items}["champion_challenger"]
    champion_eval = set(reg.runs.eval_row_positions(runs.good).tolist())
    challenger_eval = reg.runs.eval_row_positions(other.id).tolist()
    shared = sum(1 for row in challenger_eval if row in champion_eval)
    if shared < 50:
        assert item.status == "fail" and "not used to train production" in item.detail
    else:
        assert item.facts is not None and item.facts["rows"] == shared


def test_a_remembered_comparison_gives_the_same_answer_and_still_catches_tampering(
    reg_dir: Path, runs: Runs
) -> None:
    with Workspace.open(reg_dir) as ws:
        champion = ready(ws, runs.good)
        ws.models.promote(champion, to="production")
        challenger = ready(ws, runs.weak)
        first = {i.key: i for i in ws.models.checklist(challenger).items}["champion_challenger"]
        remembered = list((reg_dir / ".stead" / "cache" / "champion").glob("*.json"))
        again = {i.key: i for i in ws.models.checklist(challenger).items}["champion_challenger"]
        assert len(remembered) == 1 and (again.status, again.detail) == (first.status, first.detail)
        # The champion's model altered after the comparison was remembered: refused.
        alter_artifact(ws, ws.models.get(champion).artifacts["model"])
        item = {i.key: i for i in ws.models.checklist(challenger).items}["champion_challenger"]
        assert item.status == "fail" and "was altered" in item.detail


def test_random_split_rows_about_customers_the_challenger_trained_on_are_not_compared(
    reg: Workspace, runs: Runs
) -> None:
    champion = ready(reg, runs.good)
    reg.models.promote(champion, to="production")
    # Recurring customers: four applications each, the same income, region and outcome.
    # A random split puts almost every customer on both sides, so the challenger's
    # evaluation rows are customers it learned: they would flatter it. The leakage check
    # refuses such a split unless contamination is accepted as a warning, as here.
    set_tables(reg.root, {"training.leakage": {"contamination": "warn"}})
    customers = credit_frame(200, seed=11)
    frame = customers.loc[customers.index.repeat(4)].reset_index(drop=True)
    frame["age"] = frame["age"] + frame.groupby("customer_id").cumcount()
    with Workspace.open(reg.root) as ws:
        ws.datasets.snapshot(frame, name="apps")
        challenger = ready(ws, ws.runs.train(snapshot="apps@2").run.id)
        item = {i.key: i for i in ws.models.checklist(challenger).items}["champion_challenger"]
    assert item.status == "fail"
    assert "nor are about an entity credit@2 trained on (need 50)" in item.detail
