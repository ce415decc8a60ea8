from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.clock import parse_time
from stead.core.errors import Conflict, PermissionDenied, UsageError
from stead.workspace import Workspace
from tests.stores import ON_BOTH_STORES
from tests.training.projects import set_tables

from .governed import Runs, open_as, ready


@ON_BOTH_STORES
def test_promoting_a_new_version_moves_the_old_one_and_history_says_what_was_live_when(
    reg_dir: Path, runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Generous tolerance: the weak model may replace the good one in this test.
    set_tables(reg_dir, {"checklist": {"champion_tolerance": 1.0}})
    with Workspace.open(reg_dir) as reg:
        monkeypatch.setenv("STEAD_NOW", "2026-01-01T09:00:00Z")
        first = ready(reg, runs.good)
        monkeypatch.setenv("STEAD_NOW", "2026-01-02T09:00:00Z")
        reg.models.promote(first, to="staging", reason="shadow first")
        monkeypatch.setenv("STEAD_NOW", "2026-01-03T09:00:00Z")
        reg.models.promote(first, to="production", reason="beats the rules")
        monkeypatch.setenv("STEAD_NOW", "2026-02-01T09:00:00Z")
        # A retrained version, registered under the same name, replaces it.
        challenger = ready(reg, runs.weak)
        monkeypatch.setenv("STEAD_NOW", "2026-02-02T09:00:00Z")
        move = reg.models.promote(challenger, to="production", reason="retrained on new data")

        assert [r.ref for r in move.replaced] == ["credit@1"]
        assert move.replaced[0].to_stage == "staging"
        assert "credit@1 moved production → staging" in move.message
        assert reg.models.get("credit@1").stage == "staging"
        assert reg.models.production("credit") == reg.models.get("credit@2")

        changes = reg.models.history("credit")
        assert [(c.ref, c.from_stage, c.to_stage) for c in changes] == [
            ("credit@1", None, "candidate"),
            ("credit@1", "candidate", "staging"),
            ("credit@1", "staging", "production"),
            ("credit@2", None, "candidate"),
            ("credit@1", "production", "staging"),
            ("credit@2", "candidate", "production"),
        ]
        assert changes[4].reason == "replaced in production by credit@2"

        def live(when: str) -> str | None:
            found = reg.models.live_at("credit", parse_time(when))
            return found.ref if found else None

        assert live("2026-01-02T12:00:00Z") is None
        assert live("2026-01-15T00:00:00Z") == "credit@1"
        assert live("2026-03-01T00:00:00Z") == "credit@2"
        # Both moves are audited, each under its own version, with actor and reason.
        [demoted] = reg.audit.events(subject="model:credit@1", action="model.demote")
        [promoted] = reg.audit.events(subject="model:credit@2", action="model.promote")
        assert demoted.actor == promoted.actor == "tester"
        assert demoted.reason == "replaced in production by credit@2"
        assert promoted.reason == "retrained on new data"
        assert promoted.details["replaced"] == ["credit@1"]
        assert reg.audit.verify().ok


def test_only_the_owning_team_or_an_admin_may_promote_or_retire(reg_dir: Path, runs: Runs) -> None:
    with open_as(reg_dir, "tester") as ws:
        ref = ws.models.register(runs.good, name="credit").version.ref
    with open_as(reg_dir, "mallory") as ws:
        with pytest.raises(PermissionDenied) as refused:
            ws.models.promote(ref, to="staging")
        assert "'mallory' may not promote credit@1 to staging" in refused.value.message
        assert "owned by 'risk-team'" in refused.value.message
        # The owner, not who is in it: a refused caller learns no member's name.
        assert refused.value.details == {"actor": "mallory", "owner": "risk-team"}
        with pytest.raises(PermissionDenied, match="may not retire credit@1"):
            ws.models.retire(ref)
        assert ws.models.get(ref).stage == "candidate"
        refusals = ws.audit.events(action="model.promote.refused")
        assert [e.actor for e in refusals] == ["mallory", "mallory"]
        assert all(e.details["refused_by"] == "permission" for e in refusals)
    with open_as(reg_dir, "alice") as ws:
        assert ws.models.promote(ref, to="staging").version.stage == "staging"
    with open_as(reg_dir, "root") as ws:
        move = ws.models.retire(ref, reason="superseded")
        assert move.change.actor == "root" and move.version.stage == "retired"


def test_retired_is_final_but_the_version_keeps_its_artifacts_and_lineage(
    reg: Workspace, runs: Runs
) -> None:
    ref = reg.models.register(runs.good, name="credit").version.ref
    reg.models.retire(ref, reason="never used")
    with pytest.raises(Conflict, match="retired, which is final"):
        reg.models.promote(ref, to="staging")
    assert reg.models.load(ref).pipeline is not None
    assert reg.models.lineage(ref).find("snapshot")[0].label.startswith("snapshot apps@1")
    assert reg.models.verify(ref).model == ref


@ON_BOTH_STORES
def test_moves_that_make_no_sense_are_refused(reg: Workspace, runs: Runs) -> None:
    ref = reg.models.register(runs.good, name="credit").version.ref
    with pytest.raises(UsageError, match="stage 'live' is not one of"):
        reg.models.promote(ref, to="live")
    reg.models.promote(ref, to="staging")
    with pytest.raises(Conflict, match="already in staging"):
        reg.models.promote(ref, to="staging")
    with pytest.raises(Conflict, match="may move to production, retired, not candidate"):
        reg.models.promote(ref, to="candidate")
