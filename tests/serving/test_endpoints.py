"""ws.endpoints: deployment revisions, their gates, ownership, rollback and audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import Conflict, GateFailed, NotFound, PermissionDenied, UsageError
from stead.security.access import Principal
from stead.workspace import Workspace
from tests.serving.deployed import LOGISTIC, TREES, WEAK_TREES
from tests.stores import ON_BOTH_STORES


@ON_BOTH_STORES
def test_each_change_is_a_new_audited_revision_with_actor_and_reason(dws: Workspace) -> None:
    first = dws.endpoints.deploy("credit", TREES, reason="first model")
    second = dws.endpoints.canary("credit", LOGISTIC, share=10, reason="try the linear one")
    assert (first.deployment.revision, second.deployment.revision) == (1, 2)
    assert second.previous == first.deployment
    endpoint = dws.endpoints.get("credit")
    assert endpoint.revision == 2 and endpoint.owner == "risk-team"
    policy = endpoint.policy
    assert (policy.production, policy.canary, policy.canary_share) == (TREES, LOGISTIC, 0.10)
    assert str(endpoint.active.fallback) == "credit@1:baseline"
    events = dws.audit.events(subject="endpoint:credit")
    assert [(e.action, e.actor, e.reason) for e in events] == [
        ("endpoint.deploy", "tester", "first model"),
        ("endpoint.canary", "tester", "try the linear one"),
    ]
    assert events[1].details["revision"] == 2 and events[1].details["previous_revision"] == 1
    assert dws.audit.verify().ok
    assert "canary credit@2 at 10%" in second.message


def test_production_needs_stage_production_and_canaries_need_staging(dws: Workspace) -> None:
    with pytest.raises(
        Conflict, match=r"credit@2 is in staging; a production version must be in production"
    ):
        dws.endpoints.deploy("credit", LOGISTIC)
    with pytest.raises(NotFound, match="no endpoint named 'credit'"):
        dws.endpoints.canary("credit", LOGISTIC)
    dws.endpoints.deploy("credit", TREES)
    dws.models.promote(LOGISTIC, to="production", reason="replaces credit@1")
    dws.models.retire(WEAK_TREES, reason="not needed")
    # A retired version may take no traffic at all.
    with pytest.raises(Conflict, match="a canary version must be in staging or production"):
        dws.endpoints.canary("credit", WEAK_TREES)
    refusals = dws.audit.events(action="endpoint.change.refused")
    assert [e.details["refused_by"] for e in refusals] == ["stage", "stage"]


def test_a_failing_checklist_refuses_the_deployment_and_an_admin_may_override(
    dep_dir: Path,
) -> None:
    with Workspace.open(dep_dir, actor="tester") as ws:
        ws.endpoints.deploy("credit", TREES)
        with pytest.raises(GateFailed) as refused:
            ws.endpoints.canary("credit", WEAK_TREES, share=5)
        assert "credit@3 cannot be deployed to credit" in refused.value.message
        assert "reproducible" in refused.value.details["failing"]
        with pytest.raises(PermissionDenied, match="only an admin may"):
            ws.endpoints.canary("credit", WEAK_TREES, override=True, reason="hotfix")
        with pytest.raises(UsageError, match="an override needs a reason"):
            ws.endpoints.canary("credit", WEAK_TREES, override=True)
        assert ws.endpoints.get("credit").revision == 1
    with Workspace.open(dep_dir, actor="root") as ws:
        outcome = ws.endpoints.canary(
            "credit", WEAK_TREES, share=5, override=True, reason="incident 42"
        )
        assert outcome.deployment.override
        assert "reproducible" in outcome.deployment.overridden[WEAK_TREES]
        assert "admin override of" in outcome.message
        [event] = ws.audit.events(action="endpoint.canary")
        assert event.actor == "root" and event.reason == "incident 42"
        assert event.details["override"] is True
        gate = [
            e
            for e in ws.audit.events(action="endpoint.change.refused")
            if e.details["refused_by"] == "gate"
        ]
        assert gate and gate[0].details["model"] == WEAK_TREES


def test_only_the_owning_team_or_an_admin_may_change_an_endpoint(dep_dir: Path) -> None:
    with Workspace.open(dep_dir, actor="tester") as ws:
        ws.endpoints.deploy("credit", TREES)
    with Workspace.open(dep_dir, actor="mallory") as ws:
        with pytest.raises(PermissionDenied, match="'mallory' may not change endpoint credit"):
            ws.endpoints.canary("credit", LOGISTIC)
        with pytest.raises(PermissionDenied):
            ws.endpoints.rollback("credit")
        # A token acts for its team: a deployer of another team is refused too.
        bot = Principal("token:ci", teams=("growth",))
        with pytest.raises(PermissionDenied, match="'token:ci' may not change"):
            ws.endpoints.canary("credit", LOGISTIC, principal=bot)
        owner_bot = Principal("token:risk-ci", teams=("risk-team",))
        outcome = ws.endpoints.canary("credit", LOGISTIC, principal=owner_bot, reason="ci")
        assert outcome.deployment.actor == "token:risk-ci"
    with Workspace.open(dep_dir, actor="root") as ws:
        assert ws.endpoints.end_canary("credit").deployment.revision == 3


@ON_BOTH_STORES
def test_rollback_activates_the_previous_revision_as_a_new_one(dws: Workspace) -> None:
    with pytest.raises(NotFound):
        dws.endpoints.rollback("credit")
    dws.endpoints.deploy("credit", TREES)
    with pytest.raises(Conflict, match="first revision"):
        dws.endpoints.rollback("credit")
    dws.endpoints.shadow("credit", LOGISTIC, share=50)
    back = dws.endpoints.rollback("credit", reason="shadow too costly")
    assert back.deployment.revision == 3 and back.deployment.restores == 1
    assert back.deployment.policy == dws.endpoints.revision("credit", 1).policy
    assert back.deployment.action == "rollback"
    # Rolling back again activates revision 2 (the one before 3): rollback toggles.
    again = dws.endpoints.rollback("credit")
    assert again.deployment.restores == 2
    assert [s.version for s in again.deployment.policy.shadows] == [LOGISTIC]
    chosen = dws.endpoints.rollback("credit", to=1)
    assert chosen.deployment.revision == 5 and chosen.deployment.restores == 1
    with pytest.raises(UsageError, match="earlier revision"):
        dws.endpoints.rollback("credit", to=5)
    history = dws.endpoints.history("credit")
    assert [(d.revision, d.action) for d in history] == [
        (1, "deploy"),
        (2, "shadow"),
        (3, "rollback"),
        (4, "rollback"),
        (5, "rollback"),
    ]
    assert dws.endpoints.sequence() == 5


def test_rollback_refuses_a_revision_that_serves_a_retired_version(dws: Workspace) -> None:
    dws.endpoints.deploy("credit", TREES)
    dws.models.promote(LOGISTIC, to="production")
    dws.endpoints.deploy("credit", LOGISTIC, reason="new champion")
    dws.models.retire(TREES, reason="withdrawn")
    with pytest.raises(Conflict, match="credit@1, retired since"):
        dws.endpoints.rollback("credit")
    assert dws.endpoints.get("credit").revision == 2


@ON_BOTH_STORES
def test_promote_canary_needs_the_canary_in_production(dws: Workspace) -> None:
    dws.endpoints.deploy("credit", TREES)
    with pytest.raises(Conflict, match="no canary to promote"):
        dws.endpoints.promote_canary("credit")
    dws.endpoints.canary("credit", LOGISTIC, share=20)
    with pytest.raises(Conflict, match="stead models promote credit@2 --to production"):
        dws.endpoints.promote_canary("credit")
    dws.models.promote(LOGISTIC, to="production", reason="canary looked good")
    outcome = dws.endpoints.promote_canary("credit", reason="canary looked good")
    policy = outcome.deployment.policy
    assert (policy.production, policy.canary) == (LOGISTIC, None)
    assert str(outcome.deployment.fallback) == "credit@2:baseline"


def test_deploy_keeps_other_rollouts_and_takes_an_explicit_fallback(dws: Workspace) -> None:
    dws.endpoints.deploy("credit", TREES, fallback="credit@2:baseline")
    assert str(dws.endpoints.get("credit").active.fallback) == "credit@2:baseline"
    dws.endpoints.shadow("credit", LOGISTIC)
    with pytest.raises(Conflict, match="already answers"):
        dws.endpoints.shadow("credit", TREES)
    dws.endpoints.remove_shadow("credit", LOGISTIC)
    with pytest.raises(Conflict, match="not a shadow"):
        dws.endpoints.remove_shadow("credit", LOGISTIC)
    with pytest.raises(UsageError, match="fallback 'credit'"):
        dws.endpoints.deploy("credit", TREES, fallback="credit")
    with pytest.raises(UsageError, match="exact version"):
        dws.endpoints.deploy("credit", "credit@production")
    with pytest.raises(UsageError, match="endpoint name"):
        dws.endpoints.deploy("bad name!", TREES)
    with pytest.raises(UsageError, match="percentage"):
        dws.endpoints.canary("credit", LOGISTIC, share=0)


def test_active_lists_each_endpoints_current_and_previous_revision(dws: Workspace) -> None:
    assert dws.endpoints.active() == {} and dws.endpoints.sequence() == 0
    dws.endpoints.deploy("credit", TREES)
    dws.endpoints.deploy("other", TREES)
    dws.endpoints.shadow("credit", LOGISTIC)
    active = dws.endpoints.active()
    assert active["credit"][0].revision == 2 and active["credit"][1] is not None
    assert active["credit"][1].revision == 1
    assert active["other"][0].revision == 1 and active["other"][1] is None
    assert [e.name for e in dws.endpoints.list()] == ["credit", "other"]
