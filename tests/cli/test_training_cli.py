from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from stead.workspace import Workspace
from tests.conftest import Cli, run_stead
from tests.training.projects import TRAINING, credit_frame, set_tables, write_project
from tests.training.test_reproduce import UNSEEDED


@pytest.fixture
def project(ws_dir: Path) -> Path:
    """The credit project with its data snapshotted as apps@1."""
    write_project(ws_dir)
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
    return ws_dir


@pytest.fixture(autouse=True)
def _one_native_thread() -> Iterator[None]:
    """Two test workers on two cores: keep OpenMP/BLAS from oversubscribing them."""
    with threadpool_limits(limits=1):
        yield


def text(output: str) -> str:
    """Terminal output with rich's line wrapping undone."""
    return " ".join(output.split())


def test_train_then_train_again_then_force(project: Path, cli: Cli) -> None:
    _, out, _ = cli("train")
    assert "trained run run" in out and "on apps@1 with features credit@" in out
    assert "roc_auc" in out and "baseline" in out
    _, again, _ = cli("train")
    assert "already trained these inputs" in again and "--force" in again
    _, forced, _ = cli("train", "--force")
    assert "--force: trained anew although run" in forced


def test_train_json_and_the_runs_commands(project: Path, cli: Cli) -> None:
    _, out, _ = cli("train", "--json")
    first = json.loads(out)
    assert first["created"] is True and first["run"]["status"] == "succeeded"
    run_id = first["run"]["id"]
    assert first["run"]["artifacts"]["model"] and first["run"]["predictions_hash"]

    _, out, _ = cli("train", "--seed", "11", "--json")
    second = json.loads(out)["run"]["id"]

    listed = json.loads(cli("runs", "list", "--json")[1])
    assert [r["id"] for r in listed] == [second, run_id]
    shown = json.loads(cli("runs", "show", run_id, "--json")[1])
    assert shown["snapshot"] == "apps@1" and shown["seed"] == 7 and shown["verifications"] == []
    assert "scikit-learn" in shown["environment"]["packages"]
    _, human, _ = cli("runs", "show", run_id)
    assert (
        run_id in human and "succeeded" in human and "input columns: income, age, region" in human
    )

    compared = json.loads(cli("runs", "compare", run_id, second, "--json")[1])
    assert {"section": "params", "name": "seed", "a": 7, "b": 11} in compared["differences"]
    _, human, _ = cli("runs", "compare", run_id, second)
    assert "seed" in human and "environment: same" in human

    features = json.loads(cli("features", "show", "--json")[1])
    assert features["ref"] == first["run"]["feature_set"] and features["recorded"] is True
    assert json.loads(cli("features", "list", "--json")[1])[0]["ref"] == features["ref"]


def test_reproduce_succeeds_and_is_shown_on_the_run(project: Path, cli: Cli) -> None:
    run_id = json.loads(cli("train", "--json")[1])["run"]["id"]
    _, out, _ = cli("reproduce", run_id)
    out = text(out)
    assert f"run {run_id} reproduced: evaluation predictions are bit-identical" in out
    shown = json.loads(cli("runs", "show", run_id, "--json")[1])
    assert [v["status"] for v in shown["verifications"]] == ["verified"]


def test_reproduce_mismatch_exits_9_and_lists_what_differs(ws_dir: Path, cli: Cli) -> None:
    write_project(
        ws_dir,
        training={**TRAINING, "estimator": "jitter:JitteredLogistic", "params": {}},
        modules={"jitter.py": UNSEEDED},
    )
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
    run_id = json.loads(cli("train", "--json")[1])["run"]["id"]
    _, _, err = cli("reproduce", run_id, expect=9)
    err = text(err)
    assert "error (reproduction_failed)" in err
    assert "did not reproduce" in err and "evaluation rows differ" in err
    assert "environment differences" in err and "source differences" in err
    _, out, _ = cli("reproduce", run_id, "--json", expect=9)
    body = json.loads(out)["error"]
    assert body["code"] == "reproduction_failed"
    assert body["details"]["predictions"]["differing_rows"] > 0


def test_bad_input_exits_2_with_the_reason_and_no_traceback(project: Path, cli: Cli) -> None:
    (project / "features.py").write_text("def build():\n    raise KeyError('region map')\n")
    _, _, err = cli("train", expect=2)
    err = text(err)
    assert "error (spec_error)" in err and "raised KeyError" in err
    assert "Traceback" not in err
    assert json.loads(cli("runs", "list", "--json")[1]) == []


def test_leakage_exits_2_and_a_failed_fit_exits_1(project: Path, cli: Cli) -> None:
    set_tables(project, {"training": {**TRAINING, "leakage": {"target": "error"}}})
    (project / "columns.py").write_text('NUMERIC = ["income", "age", "default_copy"]\n')
    with Workspace.open(project) as ws:
        frame = credit_frame()
        frame["default_copy"] = frame["default"]
        ws.datasets.snapshot(frame, name="apps")
    _, _, err = cli("train", expect=2)
    err = text(err)
    assert "error (leakage_detected)" in err and "'default_copy'" in err
    assert "[columns] post_prediction" in err  # settings names survive the terminal

    (project / "columns.py").write_text('NUMERIC = ["income", "age"]\n')
    set_tables(project, {"training": {**TRAINING, "params": {"max_iter": 20, "max_bins": 2}}})
    (project / "features.py").write_text(
        "from sklearn.preprocessing import FunctionTransformer\n\n"
        "def fail(X):\n    raise ArithmeticError('bad feature math')\n\n"
        "def build():\n"
        "    from sklearn.compose import ColumnTransformer\n\n"
        "    return ColumnTransformer([('f', FunctionTransformer(fail), ['income'])])\n"
    )
    _, _, err = cli("train", expect=1)
    err = text(err)
    assert "error (training_failed)" in err and "bad feature math" in err
    (failed,) = json.loads(cli("runs", "list", "--status", "failed", "--json")[1])
    assert failed["artifacts"]["model"] is None


@pytest.mark.slow  # a real process end to end; in-process tests cover the logic
def test_stead_train_as_a_real_process(project: Path) -> None:
    done = run_stead("train", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["run"]["status"] == "succeeded"
    assert body["run"]["code_version"]["files"].keys() == {"features.py", "columns.py"}
    # OpenMP threads wait passively (a busy machine made spinning fits 10-30x slower);
    # the recorded environment says so, and a user's own choice is kept.
    assert body["run"]["environment"]["env"]["OMP_WAIT_POLICY"] == "PASSIVE"
    mine = run_stead("train", "--force", "--json", cwd=project, env={"OMP_WAIT_POLICY": "active"})
    assert json.loads(mine.stdout)["run"]["environment"]["env"]["OMP_WAIT_POLICY"] == "active"
