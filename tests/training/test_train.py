from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from stead.core.errors import NotFound
from stead.features.sources import SourceBundle
from stead.training.persistence import REVIEWED_TYPES
from stead.training.run import TrainingFailed
from stead.workspace import Workspace

from .projects import PROJECT, TRAINING, credit_frame, set_tables, write_project


def bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64).view(np.uint64)


def test_a_run_records_model_baseline_metrics_and_everything_needed_to_rerun_it(
    pws: Workspace, project: Path
) -> None:
    outcome = pws.runs.train()
    run = outcome.run

    assert outcome.created and run.status == "succeeded"
    assert run.snapshot_ref == "apps@1" and run.snapshot_id == pws.datasets.get("apps@1").id
    assert run.seed == 7
    assert run.input_columns == ["income", "age", "region"]
    assert run.classes == [0, 1]
    assert set(run.metrics) == {"roc_auc", "average_precision", "accuracy", "log_loss"}
    assert run.metrics["roc_auc"] > 0.75
    # The Dummy baseline predicts the prior: no ranking skill at all.
    assert run.baseline_metrics["roc_auc"] == 0.5
    assert run.model_artifact and run.baseline_artifact and run.predictions_artifact
    assert "model__random_state" in run.seeded_params
    # Code: the files used, their stored copy, and the git state.
    assert set(run.code_version.files) == {"features.py", "columns.py"}
    stored = SourceBundle.from_bytes(pws.artifacts.get_bytes(run.sources_artifact))
    assert stored.files["columns.py"] == (project / "columns.py").read_bytes()
    assert run.code_version.commit is None  # the tmp workspace is not a git repository
    # Environment: interpreter, packages, thread pools.
    env = run.environment
    import sklearn

    assert env["packages"]["scikit-learn"] == sklearn.__version__
    assert env["python"]["version"]
    assert any(pool["user_api"] == "blas" for pool in env["threadpools"])
    assert {"fit", "evaluate", "total"} <= set(run.timings)


def test_the_saved_pipeline_reproduces_the_recorded_eval_predictions_bit_for_bit(
    pws: Workspace,
) -> None:
    run = pws.runs.train().run
    eval_rows = pws.runs.eval_frame(run)
    recorded = pws.runs.eval_predictions(run)

    # Loaded the way serving will: skops with the reviewed trusted types, no pickle.
    data = pws.artifacts.get_bytes(run.model_artifact or "")
    assert set(sio.get_untrusted_types(data=data)) <= set(REVIEWED_TYPES)
    pipeline = sio.loads(data, trusted=list(REVIEWED_TYPES))
    assert list(pipeline.named_steps) == ["features", "model"]
    assert np.array_equal(bits(pipeline.predict_proba(eval_rows)), bits(recorded))
    # Same through the service (which verifies the artifact's hash first).
    loaded = pws.runs.load_model(run.id)
    assert np.array_equal(bits(loaded.predict_proba(eval_rows[run.input_columns])), bits(recorded))


def test_the_baseline_is_its_own_artifact_with_the_same_features(pws: Workspace) -> None:
    run = pws.runs.train().run
    baseline = pws.runs.load_model(run, which="baseline")
    rows = pws.runs.eval_frame(run)
    proba = baseline.predict_proba(rows)
    assert type(baseline.named_steps["model"]).__name__ == "DummyClassifier"
    assert np.allclose(proba, proba[0])  # the prior, whatever the row
    assert run.baseline_artifact != run.model_artifact


def test_training_the_same_inputs_again_returns_the_existing_run(pws: Workspace) -> None:
    first = pws.runs.train()
    again = pws.runs.train()
    assert not again.created and again.run.id == first.run.id
    assert "already trained" in again.message and "--force" in again.message
    assert len(pws.runs.list()) == 1


def test_force_trains_anew_says_so_and_gives_identical_predictions(pws: Workspace) -> None:
    first = pws.runs.train().run
    forced = pws.runs.train(force=True)
    assert forced.created and forced.forced and forced.run.id != first.id
    assert f"although run {first.id} has the same inputs" in forced.message
    assert forced.run.predictions_hash == first.predictions_hash
    assert forced.run.key == first.key


def test_a_new_seed_a_new_snapshot_or_changed_code_is_a_new_run(
    pws: Workspace, project: Path
) -> None:
    first = pws.runs.train().run
    reseeded = pws.runs.train(seed=8)
    assert reseeded.created and reseeded.run.seed == 8

    pws.datasets.snapshot(credit_frame(seed=1), name="apps")
    newer = pws.runs.train()
    assert newer.created and newer.run.snapshot_ref == "apps@2"

    (project / "columns.py").write_text('NUMERIC = ["income"]\n')
    changed = pws.runs.train(snapshot="apps@1")
    assert changed.created
    assert changed.run.feature_set_version != first.feature_set_version
    assert changed.run.input_columns == ["income", "region"]
    assert len(pws.runs.list()) == 4


def test_training_is_audited_start_and_finish(pws: Workspace) -> None:
    run = pws.runs.train(reason="first model").run
    events = [e for e in pws.audit.events() if e.subject == f"run:{run.id}"]
    assert [e.action for e in events] == ["run.start", "run.succeed"]
    assert events[0].reason == "first model"
    assert events[1].details["predictions_hash"] == run.predictions_hash
    assert any(e.action == "feature_set.register" for e in pws.audit.events())
    assert pws.audit.verify().ok


def test_a_failing_fit_records_a_failed_run_with_the_error_and_no_model(ws_dir: Path) -> None:
    write_project(
        ws_dir,
        training={**TRAINING, "estimator": "broken:Exploding", "params": {}},
        modules={
            "broken.py": """\
                from sklearn.base import BaseEstimator, ClassifierMixin


                class Exploding(ClassifierMixin, BaseEstimator):
                    def fit(self, X, y):
                        raise RuntimeError("out of memory while fitting")

                    def predict(self, X):
                        return X[:, 0]
                """
        },
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        with pytest.raises(TrainingFailed, match="out of memory while fitting") as caught:
            ws.runs.train()
        run = ws.runs.get(caught.value.details["run_id"])
        assert run.status == "failed"
        assert run.error and "RuntimeError: out of memory while fitting" in run.error
        assert run.model_artifact is None and run.baseline_artifact is None
        assert [e.action for e in ws.audit.events() if e.subject == f"run:{run.id}"] == [
            "run.start",
            "run.fail",
        ]
        # A failed run is not reused: the next attempt trains (and fails) again.
        with pytest.raises(TrainingFailed):
            ws.runs.train()
        assert len(ws.runs.list(status="failed")) == 2


def test_multiclass_with_a_logistic_regression_baseline(ws_dir: Path) -> None:
    write_project(
        ws_dir,
        project={**PROJECT, "task": "multiclass"},
        columns={"id": "customer_id", "target": "tier"},
        training={
            **TRAINING,
            "estimator": "sklearn.ensemble:RandomForestClassifier",
            "params": {"n_estimators": 15},
            "baseline": {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "params": {"C": 0.1, "max_iter": 300},
            },
            "metrics": ["accuracy", "log_loss", "roc_auc_ovr"],
        },
    )
    frame = credit_frame().drop(columns=["default"])
    noisy = frame["income"] + np.random.default_rng(5).normal(0, 4, len(frame))
    frame["tier"] = np.select([noisy < 45, noisy < 55], ["low", "mid"], default="high")
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(frame, name="apps")
        run = ws.runs.train().run
        assert run.classes == ["high", "low", "mid"]
        assert set(run.metrics) == {"accuracy", "log_loss", "roc_auc_ovr"}
        assert run.baseline_metrics["accuracy"] is not None
        assert "model__random_state" in run.seeded_params
        model = ws.runs.load_model(run)
        assert model.predict_proba(ws.runs.eval_frame(run)).shape[1] == 3
        assert type(ws.runs.load_model(run, which="baseline")[-1]).__name__ == (
            "LogisticRegression"
        )


def test_regression_with_a_time_split_evaluates_on_the_latest_rows(ws_dir: Path) -> None:
    write_project(
        ws_dir,
        project={**PROJECT, "task": "regression"},
        columns={"id": "customer_id", "target": "loss", "time": "applied_at"},
        training={
            **TRAINING,
            "estimator": "sklearn.linear_model.Ridge",
            "params": {"alpha": 1.0},
            "split": {"method": "time", "eval_fraction": 0.25},
        },
    )
    frame = credit_frame().drop(columns=["default"])
    frame["loss"] = 100 - frame["income"] + np.random.default_rng(3).normal(0, 5, len(frame))
    # Coarse dates: several rows share a day, so the cut-off must not split a day.
    frame["applied_at"] = (
        np.datetime64("2025-01-01") + (np.arange(len(frame)) // 7).astype("timedelta64[D]")
    ).astype(str)
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(frame, name="apps")
        run = ws.runs.train().run
        assert run.split["method"] == "time"
        rows = ws.runs.eval_frame(run)
        data = ws.datasets.load("apps@1")
        train_times = data.drop(index=rows.index)["applied_at"]
        assert train_times.max() < rows["applied_at"].min()
        assert run.metrics["r2"] is not None and run.metrics["r2"] > 0.5
        assert run.baseline_metrics["r2"] is not None and run.baseline_metrics["r2"] <= 0.0
        assert run.split["eval_start"].startswith(str(rows["applied_at"].min().date()))


def test_run_lookup_by_prefix_and_clear_not_found(pws: Workspace) -> None:
    run = pws.runs.train().run
    assert pws.runs.get(run.id[:-4]).id == run.id
    with pytest.raises(NotFound, match="stead runs list"):
        pws.runs.get("run_does_not_exist")


def test_compare_names_what_differs(pws: Workspace, project: Path) -> None:
    a = pws.runs.train().run
    set_tables(
        project, {"training": {**TRAINING, "params": {"max_iter": 10, "learning_rate": 0.2}}}
    )
    with Workspace.open(project) as ws:
        b = ws.runs.train().run
        comparison = ws.runs.compare(a.id, b.id)
    params = {d.name: (d.a, d.b) for d in comparison.section("params")}
    assert params["params.max_iter"] == (20, 10)
    assert params["params.learning_rate"] == (None, 0.2)
    assert comparison.section("data") == [] and comparison.section("features") == []
    assert comparison.environment == []
    assert [m.name for m in comparison.metrics] == [
        "roc_auc",
        "average_precision",
        "accuracy",
        "log_loss",
    ]
    assert json.dumps(comparison.to_dict())


def test_training_works_on_every_store(any_ws: Workspace) -> None:
    write_project(any_ws.root)
    with Workspace.open(any_ws.root) as ws:
        ws.datasets.snapshot(credit_frame(rows=200), name="apps")
        first = ws.runs.train()
        again = ws.runs.train()
        assert first.created and not again.created and again.run.id == first.run.id
        assert ws.runs.get(first.run.id).metrics == first.run.metrics
        ws.runs.reproduce(first.run.id)
        assert [v.verified for v in ws.runs.verifications(first.run.id)] == [True]


def test_a_run_records_the_git_commit_and_whether_the_tree_was_dirty(
    project: Path, pws: Workspace
) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(project), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    git("init", "-q")
    git("add", "features.py", "columns.py")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "features")
    clean = pws.runs.train().run
    assert clean.code_version.commit == git("rev-parse", "HEAD")
    assert clean.code_version.dirty is False

    (project / "columns.py").write_text('NUMERIC = ["income"]\n')
    dirty = pws.runs.train().run
    assert dirty.code_version.commit == clean.code_version.commit
    assert dirty.code_version.dirty is True
    assert dirty.code_version.sources_hash != clean.code_version.sources_hash


def test_project_functions_inside_the_pipeline_load_from_the_stored_sources(
    ws_dir: Path,
) -> None:
    write_project(
        ws_dir,
        modules={
            "features.py": """\
                import numpy as np
                from sklearn.compose import ColumnTransformer
                from sklearn.preprocessing import FunctionTransformer


                def log_income(X):
                    return np.log1p(np.asarray(X, dtype=float))


                def build():
                    return ColumnTransformer(
                        [("log", FunctionTransformer(log_income), ["income", "age"])]
                    )
                """
        },
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
        run = ws.runs.train().run
        assert "features.log_income" in run.trusted_types
        # The workspace's file changes later; the model keeps the function it was fitted with.
        (ws_dir / "features.py").write_text("def build():\n    raise RuntimeError('gone')\n")
        model = ws.runs.load_model(run)
        proba = model.predict_proba(ws.runs.eval_frame(run))
        assert np.array_equal(bits(proba), bits(ws.runs.eval_predictions(run)))
