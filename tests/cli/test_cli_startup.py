"""The ``stead`` command imports only what a command needs (docs/architecture.md).

Each check runs a fresh interpreter and lists the heavy libraries it ended up importing,
so that one eager import anywhere under ``stead.cli`` (or in ``stead/__init__.py``) fails
here rather than slowing every command down by a second or more.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import run_stead
from ..training.projects import TRAINING, set_tables, write_project

# Libraries only some commands need: training, explanations, serving, the data stages.
HEAVY = ("sklearn", "skops", "shap", "scipy", "starlette", "uvicorn", "dask", "pandas", "pyarrow")
# What opening a workspace and a light read-only command may not import. pandas and pyarrow
# still are: the dataset service reads snapshots with them.
NOT_AT_OPEN = ("sklearn", "skops", "shap", "scipy", "starlette", "uvicorn", "dask", "httpx")

PROBE = """
import json, runpy, sys
sys.argv = ["stead", *json.loads(sys.argv[1])]
try:
    runpy.run_module("stead", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def loaded_by(*args: str, cwd: Path) -> set[str]:
    """Top-level packages imported by ``python -m stead ARGS`` (which must succeed)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["code"] in (0, None), (outcome, done.stderr)
    return set(outcome["modules"])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["data", "--help"],
        ["models", "--help"],
        ["endpoints", "--help"],
        ["predictions", "--help"],
        ["monitor", "--help"],
        ["score", "--help"],
        ["train", "--help"],
    ],
)
def test_help_imports_no_stage_libraries(args: list[str], tmp_path: Path) -> None:
    assert loaded_by(*args, cwd=tmp_path) & set(HEAVY) == set()


def test_version_names_the_installed_release(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = run_stead("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"stead {version('stead')}"


def test_importing_the_public_api_imports_no_stage_libraries(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom stead import Workspace, SteadError\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args", [["data", "list"], ["audit", "verify"], ["endpoints", "list"], ["runs", "list"]]
)
def test_a_read_only_command_imports_no_model_libraries(args: list[str], ws_dir: Path) -> None:
    # Every table a check reads at open, so that each check runs its real parsing code.
    write_project(ws_dir, training={**TRAINING, "metrics": ["roc_auc", "accuracy"]})
    set_tables(
        ws_dir,
        {
            "training.leakage": {"target": "warn"},
            "monitoring": {"window": "1d"},
            "monitoring.drift": {"psi": 0.25},
            "alerts": {"sinks": ["stdout", "https://hooks.example.com/stead"]},
        },
    )
    assert loaded_by(*args, cwd=ws_dir) & set(NOT_AT_OPEN) == set()


def test_wrong_setting_still_fails_when_the_workspace_opens(ws_dir: Path) -> None:
    # The checks moved inside Workspace.from_settings; they must still run for every command.
    settings = ws_dir / "stead.toml"
    settings.write_text(settings.read_text() + '\n[training]\nsnapshot = "credit"\nseed = -1\n')
    done = run_stead("data", "list", cwd=ws_dir)
    assert done.returncode != 0
    assert "[training]" in done.stderr


def test_a_drift_threshold_of_the_wrong_type_fails_when_the_workspace_opens(
    ws_dir: Path,
) -> None:
    set_tables(ws_dir, {"monitoring.drift": {"psi": "high"}})
    done = run_stead("data", "list", cwd=ws_dir)
    assert done.returncode != 0
    assert "psi = 'high' is not allowed; expected a number > 0" in done.stderr


def test_drift_parameters_match_the_statistics() -> None:
    # Workspace open checks [monitoring.drift] against this light table, not the classes.
    from dataclasses import fields

    from stead.monitoring.drift import statistics
    from stead.monitoring.drift.thresholds import STATISTIC_PARAMETERS

    classes = [statistics.PSI, statistics.Wasserstein, statistics.KolmogorovSmirnov]
    classes += [statistics.JensenShannon, statistics.UnseenRate, statistics.ChiSquare]
    found = {c.name: {f.name for f in fields(c)} for c in classes}
    assert found == {name: set(params) for name, params in STATISTIC_PARAMETERS.items()}


def test_scoring_options_match_the_service() -> None:
    # The CLI repeats these so that building the app does not import pandas and pyarrow.
    from stead.cli import scoring as cli
    from stead.serving.batch import scoring as service

    assert cli.ENGINES == service.ENGINES
    assert cli.DEFAULT_CHUNK_ROWS == service.DEFAULT_CHUNK_ROWS
