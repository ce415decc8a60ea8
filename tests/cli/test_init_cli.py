"""`stead init`: the settings file and features.py it writes, and roles drafted from data."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import Cli

PROJECT = """
[project]
name = "credit"
owner = "risk"
problem = "Predict which applicants default."
task = "binary"
kpi = "Loss on approved loans"
assumptions = ["Applicants resemble those of the training months."]
intended_use = "Rank applications for review."
"""


def _applications(path: Path, rows: int = 400) -> Path:
    # Recurring customers, a time column, personal fields, free text and a binary target.
    rng = np.random.default_rng(7)
    income = rng.normal(50, 12, rows).round(2)
    pd.DataFrame(
        {
            "customer_id": rng.integers(0, 120, rows),
            "applied_at": pd.date_range("2025-01-01", periods=rows, freq="h").strftime(
                "%Y-%m-%dT%H:%M:%S"
            ),
            "contact": [f"applicant{i}@mail.example.com" for i in range(rows)],
            "phone_number": [f"+44 20 7946 {i:04d}" for i in range(rows)],
            "income": income,
            "age": rng.integers(18, 80, rows),
            "region": rng.choice(["north", "south", "east"], rows),
            "notes": [f"called on day {i}" for i in range(rows)],
            "defaulted": (income + rng.normal(0, 8, rows) < 40).astype(int),
        }
    ).to_csv(path, index=False)
    return path


def _uncomment(text: str, table: str) -> str:
    """Uncomment ``# [table]`` and the ``# key = value`` lines under it."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("# [") or line.startswith("["):
            inside = line in (f"# [{table}]", f"# [{table}.split]")
        if inside and re.match(r"^# (\[|[a-z_]+ = )", line):
            line = line[2:]
        out.append(line)
    return "\n".join(out) + "\n"


def test_init_writes_every_table_commented_and_a_starter_features_file(tmp_path: Path) -> None:
    Cli(tmp_path)("init", "fresh")

    text = (tmp_path / "fresh" / "stead.toml").read_text()
    for table in ("[columns]", "# [project]", "# [features]", "# [training]"):
        assert f"\n{table}\n" in text
    for table in ("monitoring", "alerts"):
        assert f"\n# [{table}]\n" in text
        assert table not in tomllib.loads(text)  # a user may append the table whole
    features = (tmp_path / "fresh" / "features.py").read_text()
    assert "def build() -> ColumnTransformer:" in features
    # Filling in the commented tables gives settings the workspace accepts.
    filled = _uncomment(_uncomment(text, "features"), "training")
    assert 'definition = "features:build"' in filled and "\n[training]\n" in filled
    (tmp_path / "fresh" / "stead.toml").write_text(filled + PROJECT + 'target = "defaulted"\n')
    Cli(tmp_path / "fresh")("data", "list")


def test_init_from_a_csv_proposes_roles_and_the_drafted_project_trains(tmp_path: Path) -> None:
    data = _applications(tmp_path / "applications.csv")
    cli = Cli(tmp_path)

    _, out, _ = cli("init", "proj", "--from", str(data))
    _, as_json, _ = Cli(tmp_path)("init", "other", "--from", str(data), "--json")

    for line in (
        "id: customer_id (its name ends in id (",
        "of values distinct: an entity seen more than once))",
        "time: applied_at (it holds timestamps)",
        "target: defaulted",
        "pii: contact (100% of its values look like e-mail addresses)",
        "pii: phone_number (its name suggests personal data)",
        "task: binary (the target has 2 values)",
        "left out (free text): notes",
        "next: write [project], then uncomment [features] and [training]",
    ):
        assert line in out
    proposal = json.loads(as_json)["proposal"]
    assert proposal["numeric"] == ["income", "age"] and proposal["categorical"] == ["region"]
    root = tmp_path / "proj"
    columns = tomllib.loads((root / "stead.toml").read_text())["columns"]
    assert columns == {
        "id": "customer_id",
        "time": "applied_at",
        "target": "defaulted",
        "pii": ["contact", "phone_number"],
    }
    assert 'NUMERIC = [\n    "income",\n    "age",\n]' in (root / "features.py").read_text()

    # The user writes [project] and uncomments what init drafted: the golden path runs
    # (recurring customers are no contamination on the time split).
    text = _uncomment(_uncomment((root / "stead.toml").read_text(), "features"), "training")
    (root / "stead.toml").write_text(text + PROJECT)
    project = Cli(root)
    project("data", "snapshot", "applications", str(data))
    _, trained, _ = project("train", "--json")
    run = json.loads(trained)["run"]
    assert run["status"] == "succeeded" and run["input_columns"] == ["income", "age", "region"]
    assert run["spec"]["split"]["method"] == "time"


def test_init_never_overwrites_a_projects_own_features_file(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "features.py").write_text("# my features\n")

    Cli(tmp_path)("init", "mine")

    assert (tmp_path / "mine" / "features.py").read_text() == "# my features\n"
