"""Right on anyone's data: a value outside the training range is answered and flagged
(answer, log, monitor), ``out_of_range = "error"`` refuses it, infinity is refused, and a
request may ask for per-record errors instead of losing every record to one bad one.

The model is trained on a credit-like table of account balances, the day's temperature
and the day of the year, all of one non-leap year: the richest customers, a heatwave and
the last day of a leap year (day 366) are all beyond what training saw.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from stead.workspace import Workspace
from tests.conftest import run_stead
from tests.serving.deployed import GOVERNANCE, predict, serving
from tests.serving.test_server_process import server
from tests.training.projects import PROJECT, TRAINING, set_tables, write_project

FEATURES = """\
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def build():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), ["balance", "temperature", "day_of_year"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
"""
ENDPOINT = "accounts"
MAX_BALANCE = 50_000.0
RECORD = {"balance": 12_000.0, "temperature": 14.5, "day_of_year": 120, "region": "north"}
RICH = {**RECORD, "balance": 250_000.0}  # five times the richest customer in training
HOT = {**RECORD, "temperature": 41.0}
LEAP = {**RECORD, "day_of_year": 366}  # 31 December of a leap year


def accounts(rows: int = 500, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "balance": np.round(rng.uniform(0.0, MAX_BALANCE, rows), 2),
            "temperature": np.round(rng.normal(15.0, 6.0, rows).clip(-5.0, 35.0), 1),
            "day_of_year": rng.integers(1, 366, rows),  # 1..365: a year without 29 February
            "region": rng.choice(["north", "south", "east"], rows),
        }
    )
    frame.loc[0, ["balance", "day_of_year"]] = [MAX_BALANCE, 365]
    risk = frame["balance"] / -20_000.0 + (frame["temperature"] > 25) * 0.5
    frame["default"] = (risk + rng.normal(0.0, 1.0, rows) > -1.0).astype(int)
    return frame


@pytest.fixture(scope="module", name="template")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("accounts") / "ws"
    Workspace.init(root, actor="tester")
    write_project(
        root,
        project={**PROJECT, "name": "accounts"},
        training={**TRAINING, "snapshot": "accounts"},
        modules={"features.py": FEATURES},
    )
    set_tables(root, GOVERNANCE)
    with Workspace.open(root, actor="tester") as ws:
        ws.datasets.snapshot(accounts(), name="accounts")
        run = ws.runs.train().run.id
        ref = ws.models.register(run, name="accounts").version.ref
        ws.runs.reproduce(run)
        ws.models.promote(ref, to="production", reason="first model")
        ws.endpoints.deploy(ENDPOINT, ref, reason="first")
    return root


@pytest.fixture(name="root")
def _root(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(template, target)
    return target


def logged(root: Path) -> pd.DataFrame:
    with Workspace.open(root) as ws:
        return ws.predictions.read(ENDPOINT)


def post(client: Any, records: list[dict[str, Any]], query: str = "") -> httpx.Response:
    response: httpx.Response = client.post(
        f"/v1/endpoints/{ENDPOINT}/predict{query}", json={"records": records}
    )
    return response


def test_the_richest_customer_is_answered_flagged_logged_and_counted_over_loopback(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server(root, workers=1) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = post(client, [RECORD, RICH, HOT, LEAP])
        plain = post(client, [RECORD])
    assert response.status_code == 200, response.text  # today's main: 422
    body = response.json()
    assert plain.status_code == 200 and "warnings" not in plain.json()
    flags = [p.get("out_of_range") for p in body["predictions"]]
    assert flags == [None, ["balance"], ["temperature"], ["day_of_year"]]
    assert all("probabilities" in p for p in body["predictions"])
    messages = {w["column"]: (w["rows"], w["severity"], w["message"]) for w in body["warnings"]}
    rows_, severity, message = messages["balance"]
    assert (rows_, severity) == ([1], "warning")
    assert re.fullmatch(
        r"field 'balance' is above the training range \[[\d.]+, 50000\] in record 1: 250000",
        message,
    )
    assert re.search(
        r"'day_of_year' is above the training range \[1, 365\] in record 3: 366$",
        messages["day_of_year"][2],
    )
    assert messages["temperature"][2].startswith("field 'temperature' is above the training")

    rows = logged(root)
    flagged = {
        r["request_id"]: list(r["out_of_range"])
        for r in rows.to_dict("records")
        if r["out_of_range"] is not None
    }
    rid = body["request_id"]
    assert flagged == {
        f"{rid}.1": ["balance"],
        f"{rid}.2": ["temperature"],
        f"{rid}.3": ["day_of_year"],
    }
    assert set(rows["role"]) == {"production"}

    # A count window of the five answered records counts the three flagged ones.
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    done = run_stead(
        "monitor",
        "run",
        ENDPOINT,
        "--window",
        "5",
        "--json",
        cwd=root,
        env={
            "STEAD_ACTOR": "tester",
            "STEAD_NOW": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    assert done.returncode == 0, done.stderr
    [window] = json.loads(done.stdout)["windows"]
    [schema] = [r for r in window["results"] if r["signal"] == "schema"]
    summary = schema["summary"]
    assert (summary["out_of_range_answered"], summary["out_of_range_answered_rate"]) == (3, 0.6)
    assert summary["out_of_range_answered_by_field"] == {
        "balance": 1,
        "day_of_year": 1,
        "temperature": 1,
    }
    assert "3 of 5 answered outside the training range" in schema["message"]

    # The value-based rate the signal computes agrees with the server's flags.
    monkeypatch.setenv("STEAD_NOW", later)
    with Workspace.open(root, actor="tester") as ws:
        [again] = ws.monitors.run(ENDPOINT, window="5", force=True).windows
    [result] = [r for r in again.results if r.signal == "schema"]
    for name in ("balance", "temperature", "day_of_year"):
        facts = result.details["columns"][name]
        assert (facts["out_of_range_rate"], facts["out_of_range_answered"]) == (0.2, 1)
