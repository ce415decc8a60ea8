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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from stead.predictions.layout import decode
from stead.predictions.lookup import find_request
from stead.workspace import Workspace
from tests.conftest import run_stead
from tests.serving.deployed import GOVERNANCE, serving
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


@pytest.mark.slow  # a real process end to end; in-process tests cover the logic
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


def test_out_of_range_error_still_refuses_and_logs_the_refusal(root: Path) -> None:
    set_tables(root, {"serving": {"out_of_range": "error"}})
    with serving(root) as client:
        response = post(client, [RECORD, RICH])
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "contract_violation"
    assert "field 'balance' is above the training range" in error["message"]
    assert list(logged(root)["role"]) == ["rejected", "rejected"]


def test_infinity_is_malformed_and_refused_even_when_out_of_range_is_served(root: Path) -> None:
    body = '{"records": [{"balance": Infinity, "temperature": 14.5, "day_of_year": 120, '
    body += '"region": "north"}]}'
    with serving(root) as client:
        response = client.post(
            f"/v1/endpoints/{ENDPOINT}/predict",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert "finite" in response.json()["error"]["message"]


def test_one_bad_record_of_three_gets_its_own_error_when_asked(root: Path) -> None:
    bad = {**RECORD, "region": 7}
    with serving(root) as client:
        whole = post(client, [RECORD, bad, HOT])
        split = post(client, [RECORD, bad, HOT], "?record_errors=true")
        none = post(client, [bad, bad], "?record_errors=true")
    assert whole.status_code == 422  # the default is today's behaviour
    assert none.status_code == 422  # nothing left to answer
    assert split.status_code == 200, split.text
    body = split.json()
    rid = body["request_id"]
    first, refused, third = body["predictions"]
    assert refused is None and "probabilities" in first and third["out_of_range"] == ["temperature"]
    assert (first["request_id"], third["request_id"]) == (f"{rid}.0", f"{rid}.2")
    [error] = body["errors"]
    assert (error["record"], error["request_id"], error["code"]) == (
        1,
        f"{rid}.1",
        "contract_violation",
    )
    assert [(v["column"], v["kind"], v["rows"]) for v in error["violations"]] == [
        ("region", "wrong_type", [1])
    ]
    assert "field 'region' expects text (string) in record 1" in error["message"]

    rows = logged(root)
    mine = rows[rows["request_id"].str.startswith(f"{rid}.")].set_index("request_id")
    assert mine["role"].to_dict() == {
        f"{rid}.0": "production",
        f"{rid}.1": "rejected",
        f"{rid}.2": "production",
    }
    assert json.loads(mine.loc[f"{rid}.1", "refused_inputs"])["region"] == 7
    assert str(mine.loc[f"{rid}.1", "error"]).startswith("contract_violation:")
    assert list(mine.loc[f"{rid}.2", "out_of_range"]) == ["temperature"]
    with Workspace.open(root) as ws:
        [found] = decode(find_request(ws.predictions.directory, f"{rid}.1"))
    assert found.role == "rejected"
    # Without the option, every record of the refused request is logged as refused.
    assert (rows["role"] == "rejected").sum() == 3 + 1 + 2


def test_the_openapi_document_offers_record_errors(root: Path) -> None:
    with serving(root) as client:
        document = client.get("/openapi.json").json()
    operation = document["paths"]["/v1/endpoints/{name}/predict"]["post"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "record_errors"]
    assert parameter["in"] == "query" and parameter["schema"] == {"type": "boolean"}
    answer = document["components"]["schemas"]["PredictAnswer"]["properties"]
    assert "errors" in answer and "null" in json.dumps(answer["predictions"])
