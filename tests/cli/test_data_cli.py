from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ..conftest import Cli, run_stead
from ..data.frames import small_frame


@pytest.fixture
def csv_file(ws_dir: Path) -> Path:
    path = ws_dir / "apps.csv"
    small_frame().to_csv(path, index=False)
    return path


def test_snapshot_list_show_as_a_person_would(cli: Cli, csv_file: Path) -> None:
    _, out, _ = cli("data", "snapshot", "credit", str(csv_file))
    assert "created credit@1: 200 rows × 6 columns" in out
    _, out, _ = cli("data", "snapshot", "credit", str(csv_file))
    assert "identical data is already credit@1; no new version" in out
    _, out, _ = cli("data", "list")
    assert "credit@1" in out
    _, out, _ = cli("data", "show", "credit@1")
    assert "region" in out and "east, north, south, west" in out


def test_json_output_is_machine_readable(cli: Cli, csv_file: Path) -> None:
    _, out, _ = cli("data", "snapshot", "credit", str(csv_file), "--json")
    record = json.loads(out)
    assert record["ref"] == "credit@1" and record["created"] is True
    _, out, _ = cli("data", "list", "--json")
    assert [r["ref"] for r in json.loads(out)] == ["credit@1"]
    _, out, _ = cli("data", "show", "credit", "--json")
    shown = json.loads(out)
    assert shown["schema"]["columns"][1]["name"] == "age" and shown["profile"]["rows"] == 200


def test_validate_exits_non_zero_and_lists_violations(
    cli: Cli, csv_file: Path, ws_dir: Path
) -> None:
    cli("data", "snapshot", "credit", str(csv_file))
    _, out, _ = cli("data", "validate", "credit", str(csv_file))
    assert "satisfy the contract" in out
    bad = small_frame().assign(region="mars")
    bad["age"] = bad["age"].astype(object)
    bad.loc[3, "age"] = "old"
    bad.to_csv(ws_dir / "bad.csv", index=False)
    _, out, _ = cli("data", "validate", "credit@1", str(ws_dir / "bad.csv"), "--json", expect=5)
    report = json.loads(out)
    assert not report["ok"]
    found = {(v["column"], v["kind"]): v for v in report["violations"]}
    assert found[("age", "wrong_type")]["rows"] == [3]
    assert found[("region", "unseen_category")]["count"] == 200


def test_diff_shows_distribution_change(cli: Cli, ws_dir: Path) -> None:
    small_frame(500, seed=1).to_csv(ws_dir / "a.csv", index=False)
    small_frame(500, seed=1).assign(income=lambda f: f["income"] * 2).to_csv(
        ws_dir / "b.csv", index=False
    )
    cli("data", "snapshot", "d", str(ws_dir / "a.csv"))
    cli("data", "snapshot", "d", str(ws_dir / "b.csv"))
    _, out, _ = cli("data", "diff", "d@1", "d@2", "--json")
    changes = {c["column"]: c for c in json.loads(out)["distribution"]}
    assert changes["income"]["statistic"] == "psi" and changes["income"]["value"] > 1


def test_diff_does_not_score_id_or_time_columns(cli: Cli, ws_dir: Path) -> None:
    text = (ws_dir / "stead.toml").read_text()
    (ws_dir / "stead.toml").write_text(
        text.replace('# id = "customer_id"', 'id = "customer_id"').replace(
            '# time = "applied_at"', 'time = "applied_at"'
        )
    )
    days = pd.date_range("2026-01-01", periods=500, freq="h", tz="UTC")
    small_frame(500, seed=1).assign(applied_at=days).to_csv(ws_dir / "a.csv", index=False)
    # Next month: new customers, later times, the same incomes.
    small_frame(500, seed=1).assign(
        customer_id=lambda f: f["customer_id"] + 10_000, applied_at=days + pd.Timedelta(days=31)
    ).to_csv(ws_dir / "b.csv", index=False)
    cli("data", "snapshot", "d", str(ws_dir / "a.csv"))
    cli("data", "snapshot", "d", str(ws_dir / "b.csv"))
    _, out, _ = cli("data", "diff", "d@1", "d@2", "--json")
    result = json.loads(out)
    assert {c["column"] for c in result["distribution"]} & {"customer_id", "applied_at"} == set()
    assert set(result["not_compared"]) == {"customer_id", "applied_at"}
    assert all(c["value"] < 0.01 for c in result["distribution"] if c["column"] == "income")
    _, out, _ = cli("data", "diff", "d@1", "d@2")
    assert "not compared: customer_id, an id column" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("data", "show", "nope"), 3, "no dataset named 'nope'"),
        (("data", "show", "a@x"), 2, "must be a whole number"),
        (("data", "snapshot", "d", "missing.csv"), 2, "does not exist"),
    ],
)
def test_bad_input_gets_a_clear_error_and_exit_code(
    cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    _, _, err = cli(*args, expect=code)
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_the_real_command_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    done = run_stead("data", "list", cwd=tmp_path)
    assert done.returncode == 2
    assert "no stead.toml found" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "stead.toml").write_text("[data]\nmax_levels = -1\n")
    done = run_stead("data", "list", cwd=tmp_path)
    assert done.returncode == 2 and "max_levels = -1 is not allowed" in done.stderr
    assert not (tmp_path / ".stead" / "stead.db").exists()  # a bad setting writes nothing


@pytest.mark.slow
def test_init_snapshot_and_verify_as_real_subprocesses(tmp_path: Path) -> None:
    assert run_stead("init", "w", cwd=tmp_path).returncode == 0
    again = run_stead("init", "w", cwd=tmp_path)
    assert "nothing changed" in again.stdout
    small_frame().to_csv(tmp_path / "w" / "a.csv", index=False)
    sub = tmp_path / "w" / "sub"
    sub.mkdir()
    assert run_stead("data", "snapshot", "credit", "../a.csv", cwd=sub).returncode == 0
    verify = run_stead("audit", "verify", "--json", cwd=sub)
    assert verify.returncode == 0 and json.loads(verify.stdout)["events_checked"] == 2


@pytest.mark.slow  # the installed command in a real process; CI runs it
def test_a_snapshot_by_the_installed_command_is_versioned_by_the_project_repository(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    assert run_stead("init", str(project), cwd=tmp_path).returncode == 0
    small_frame().to_csv(project / "a.csv", index=False)
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "stead.toml", "a.csv"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "project"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    # The console script lives in the environment's bin directory, which here sits in
    # another checkout: its frame must not decide the code version.
    command = Path(sys.executable).parent / "stead"
    done = subprocess.run(
        [str(command), "data", "snapshot", "credit", "a.csv", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    code = json.loads(done.stdout)["code_version"]
    assert code["commit"] == head and Path(code["repo"]).resolve() == project.resolve()
