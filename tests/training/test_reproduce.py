from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import Conflict, ReproductionFailed
from stead.training.environment import capture_environment, diff_environments
from stead.training.run import TrainingFailed
from stead.workspace import Workspace

from .projects import TRAINING, credit_frame, write_project

# A user estimator that jitters its inputs with an unseeded generator: nothing stead can
# pin, so every fit differs.
UNSEEDED = """\
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class JitteredLogistic(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        rng = np.random.default_rng()
        noisy = X + rng.normal(scale=0.5, size=X.shape)
        self.model_ = LogisticRegression(C=self.C).fit(noisy, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)
"""


def test_a_run_reproduces_bit_for_bit_and_the_verification_is_recorded(pws: Workspace) -> None:
    run = pws.runs.train().run
    verification = pws.runs.reproduce(run.id)

    assert verification.verified and verification.status == "verified"
    assert verification.predictions_hash == run.predictions_hash
    assert verification.metrics == run.metrics
    assert verification.differences["environment"] == []
    assert pws.runs.verifications(run.id) == [verification]
    event = pws.audit.events()[-1]
    assert (event.action, event.subject) == ("run.reproduce.verified", f"run:{run.id}")
    assert event.details["verification_id"] == verification.id


def test_an_estimator_with_unpinned_randomness_is_caught(ws_dir: Path) -> None:
    write_project(
        ws_dir,
        training={**TRAINING, "estimator": "jitter:JitteredLogistic", "params": {"C": 1.0}},
        modules={"jitter.py": UNSEEDED},
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        run = ws.runs.train().run
        # The user module is part of the run's code and its type is trusted as project code.
        assert "jitter.py" in run.code_version.files
        assert "jitter.JitteredLogistic" in run.trusted_types

        with pytest.raises(ReproductionFailed) as caught:
            ws.runs.reproduce(run.id)
        message = caught.value.message
        assert f"run {run.id} did not reproduce" in message
        assert "evaluation rows differ" in message  # the size of the prediction difference
        assert "environment differences: none" in message
        assert "stored sources that were re-run): none" in message
        assert "draws randomness stead does not seed" in message
        gap = caught.value.details["predictions"]
        assert gap["differing_rows"] > 0 and gap["max_abs_difference"] > 0

        (verification,) = ws.runs.verifications(run.id)
        assert not verification.verified and verification.status == "mismatch"
        assert verification.predictions_hash != run.predictions_hash
        assert ws.audit.events()[-1].action == "run.reproduce.mismatch"


def test_reproduce_runs_the_stored_sources_and_lists_how_the_workspace_changed(
    pws: Workspace, project: Path
) -> None:
    run = pws.runs.train().run
    # Edit the code after training: reproduction must still use the recorded code.
    (project / "columns.py").write_text('NUMERIC = ["age"]\n')
    verification = pws.runs.reproduce(run.id)
    assert verification.verified
    assert verification.differences["sources"]["changed"] == ["columns.py"]


def test_a_failed_run_cannot_be_reproduced(ws_dir: Path) -> None:
    write_project(
        ws_dir,
        training={**TRAINING, "estimator": "broken:Exploding", "params": {}},
        modules={
            "broken.py": """\
                from sklearn.base import BaseEstimator, ClassifierMixin


                class Exploding(ClassifierMixin, BaseEstimator):
                    def fit(self, X, y):
                        raise ValueError("singular matrix")

                    def predict(self, X):
                        return X[:, 0]
                """
        },
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        with pytest.raises(TrainingFailed) as caught:
            ws.runs.train()
        with pytest.raises(Conflict, match="is failed; only a succeeded run can be reproduced"):
            ws.runs.reproduce(caught.value.details["run_id"])


def test_environment_differences_name_packages_threads_and_platform() -> None:
    recorded = capture_environment()
    current = capture_environment()
    assert diff_environments(recorded, current) == []

    current["packages"] = {**current["packages"], "numpy": "0.0.1", "left-pad": "1.0"}
    del current["packages"]["scipy"]
    current["threadpools"] = [{**p, "num_threads": 64} for p in current["threadpools"]]
    current["env"] = {**current["env"], "OMP_NUM_THREADS": "97"}
    current["platform"] = {**current["platform"], "machine": "arm64"}
    found = {
        (d.kind, d.name): (d.recorded, d.current) for d in diff_environments(recorded, current)
    }

    assert found[("package", "numpy")] == (recorded["packages"]["numpy"], "0.0.1")
    assert found[("package", "left-pad")] == (None, "1.0")
    assert found[("package", "scipy")][1] is None
    assert found[("env", "OMP_NUM_THREADS")] == (recorded["env"].get("OMP_NUM_THREADS"), "97")
    assert found[("platform", "machine")][1] == "arm64"
    assert any(kind == "threads" and b == 64 for (kind, _), (_, b) in found.items())
