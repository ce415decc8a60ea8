"""``ws.runs.train(spec=run.spec)`` trains a recorded spec as it was, whatever stead.toml
says now; without ``spec`` training keeps following stead.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import UsageError
from stead.workspace import Workspace

from .projects import TRAINING, credit_frame, set_tables


def _edit_settings(project: Path) -> None:
    """Someone changes the estimator's params, the seed and the feature params."""
    set_tables(
        project,
        {
            "training": {**TRAINING, "params": {"max_iter": 5}, "seed": 11},
            "features": {"definition": "features:build", "params": {"scale": False}},
        },
    )


def test_a_recorded_spec_trains_its_own_params_after_stead_toml_changed(project: Path) -> None:
    with Workspace.open(project) as ws:
        recorded = ws.runs.train().run
        ws.datasets.snapshot(credit_frame(seed=1), name="apps")
    _edit_settings(project)

    with Workspace.open(project) as ws:
        replayed = ws.runs.train(snapshot="apps@2", spec=recorded.spec)
        current = ws.runs.train(snapshot="apps@2")

    assert replayed.created and replayed.run.snapshot_ref == "apps@2"
    assert replayed.run.spec.result_inputs() == recorded.spec.result_inputs()
    assert replayed.run.spec.params == {"max_iter": 20} and replayed.run.seed == 7
    assert replayed.run.spec.feature_params == {}
    assert replayed.run.feature_set_version == recorded.feature_set_version
    # Without a spec, training follows the edited stead.toml: a different model.
    assert current.run.spec.params == {"max_iter": 5} and current.run.seed == 11
    assert current.run.spec.feature_params == {"scale": False}
    assert current.run.id != replayed.run.id


def test_a_recorded_spec_on_its_own_snapshot_is_the_recorded_run(project: Path) -> None:
    with Workspace.open(project) as ws:
        recorded = ws.runs.train().run
    _edit_settings(project)
    set_tables(project, {"training": None})  # no [training] at all now

    with Workspace.open(project) as ws:
        again = ws.runs.train(snapshot=recorded.snapshot_ref, spec=recorded.spec)
        reseeded = ws.runs.train(snapshot=recorded.snapshot_ref, spec=recorded.spec, seed=8)
        runs = ws.runs.list()

    assert not again.created and again.run.id == recorded.id
    assert reseeded.created and reseeded.run.seed == 8
    assert reseeded.run.spec.params == recorded.spec.params
    assert len(runs) == 2


def test_a_recorded_spec_needs_the_snapshot_to_train_on(pws: Workspace) -> None:
    recorded = pws.runs.train().run
    with pytest.raises(UsageError, match="give the snapshot"):
        pws.runs.train(spec=recorded.spec)
