"""Test projects: a stead.toml with [project]/[features]/[training], user modules, data."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stead.workspace import Workspace

FEATURES_PY = """\
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from columns import NUMERIC


def build(scale=True):
    return ColumnTransformer(
        [
            ("num", StandardScaler() if scale else "passthrough", NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
"""

COLUMNS_PY = 'NUMERIC = ["income", "age"]\n'

PROJECT: dict[str, Any] = {
    "name": "credit",
    "owner": "risk-team",
    "problem": "Predict which applicants default within a year.",
    "task": "binary",
    "kpi": "loss rate on approved applications",
    "assumptions": ["Applicants resemble those of the last two years."],
    "intended_use": "Rank applications for manual review.",
    "limitations": ["Not validated for business loans."],
}

TRAINING: dict[str, Any] = {
    "snapshot": "apps",
    "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
    "params": {"max_iter": 20},
    "seed": 7,
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def toml_tables(tables: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        for key, value in table.items():
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def set_tables(root: Path, tables: dict[str, dict[str, Any]]) -> None:
    """Replace (or add) whole tables of ``root/stead.toml``, keeping the others."""
    path = root / "stead.toml"
    text = path.read_text()
    for name in tables:
        # Drop the table and its sub-tables ([training], [training.split], ...).
        pattern = rf"^\[{re.escape(name)}(\.[^\]]+)?\]\n(?:(?!^\[).*\n?)*"
        text = re.sub(pattern, "", text, flags=re.MULTILINE)
    path.write_text(text + toml_tables({k: v for k, v in tables.items() if v is not None}))


def write_project(
    root: Path,
    *,
    columns: dict[str, Any] | None = None,
    project: dict[str, Any] | None = None,
    features: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    modules: dict[str, str] | None = None,
) -> None:
    """Write a complete training project into the workspace at ``root``."""
    files = {"features.py": FEATURES_PY, "columns.py": COLUMNS_PY, **(modules or {})}
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    set_tables(
        root,
        {
            "columns": columns
            if columns is not None
            else {"id": "customer_id", "target": "default"},
            "project": project if project is not None else PROJECT,
            "features": features if features is not None else {"definition": "features:build"},
            "training": training if training is not None else TRAINING,
        },
    )


def credit_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A binary target that income and region predict (well, not perfectly)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "income": rng.normal(50.0, 10.0, rows).round(3),
            "age": rng.integers(18, 80, rows),
            "region": rng.choice(["north", "south", "east"], rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
        }
    )
    risk = (50.0 - frame["income"]) / 10.0 + (frame["region"] == "south") * 0.8
    frame["default"] = (risk + rng.normal(0.0, 1.0, rows) > 0.3).astype(int)
    return frame


@pytest.fixture
def project(ws_dir: Path) -> Path:
    """A workspace with a binary credit project and its data snapshotted as ``apps@1``."""
    write_project(ws_dir)
    with Workspace.open(ws_dir) as ws:
        ws.datasets.snapshot(credit_frame(), name="apps")
    return ws_dir


@pytest.fixture
def pws(project: Path) -> Iterator[Workspace]:
    """The project workspace, opened after its settings were written."""
    with Workspace.open(project) as ws:
        yield ws
