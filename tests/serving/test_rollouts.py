"""Canary, shadows, fallback, determinism and following revisions, in one server process."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from stead.workspace import Workspace
from tests.serving.deployed import LOGISTIC, RECORD, TREES, predict, runtime_of, serving
from tests.stores import ON_BOTH_STORES
from tests.training.projects import credit_frame, set_tables


def logged(root: Path) -> pd.DataFrame:
    with Workspace.open(root) as ws:
        return ws.predictions.read("credit")


def wait_for_revision(client: Any, revision: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while runtime_of(client).watcher.table["credit"].revision != revision:
        assert time.monotonic() < deadline, f"revision {revision} not picked up in {timeout} s"
        time.sleep(0.02)


def wait_for_shadows(client: Any) -> None:
    """Shadows run off the response path: wait until every one started so far is done."""
    deadline = time.monotonic() + 60  # a busy machine can be slow; done ends it early
    while runtime_of(client).engine._tasks:
        assert time.monotonic() < deadline, "shadow predictions still running after 60 s"
        time.sleep(0.01)


@ON_BOTH_STORES
def test_the_canary_is_sticky_per_entity_and_takes_its_share(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
        ws.endpoints.canary("credit", LOGISTIC, share=30)
    with serving(dep_dir) as client:
        seen: dict[str, set[str]] = {}
        for key in range(200):
            for _ in range(2):
                body = predict(client, headers={"X-Entity-Key": f"customer-{key}"})
                seen.setdefault(f"customer-{key}", set()).add(body["model_version"])
        assert all(len(versions) == 1 for versions in seen.values())
        canary = sum(1 for versions in seen.values() if versions == {LOGISTIC})
        # 200 customers at 30 %: 60 expected, sd 6.5; outside 35..85 is a broken split.
        assert 35 <= canary <= 85
        # The id column in the records routes each record by itself, in one request.
        records = [{**RECORD, "customer_id": i} for i in range(40)]
        body = predict(client, records)
        versions = [p["model_version"] for p in body["predictions"]]
        assert body["model_version"] == "mixed" and set(versions) == {TREES, LOGISTIC}
        again = predict(client, records)
        assert [p["model_version"] for p in again["predictions"]] == versions
    rows = logged(dep_dir)
    assert set(rows["role"]) == {"production", "canary"}
    assert set(rows.loc[rows["role"] == "canary", "model_version"]) == {LOGISTIC}


def test_shadows_are_logged_beside_production_and_never_touch_the_answer(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
        ws.endpoints.shadow("credit", LOGISTIC, share=100)
    frame = credit_frame()[["income", "age", "region"]].head(60)
    records = frame.to_dict("records")
    with serving(dep_dir) as client:
        answers = [predict(client, [r]) for r in records[:30]]
        assert {a["model_version"] for a in answers} == {TREES}
        # The first 30 shadows must have run on the working model before it breaks.
        wait_for_shadows(client)
        # A shadow that fails: the answers are unchanged, the failure is logged.
        shadow = runtime_of(client).pool.get(LOGISTIC)

        def broken(arrays: Any, rows: int) -> Any:
            raise RuntimeError("shadow exploded")

        shadow.runner.predict = broken
        for record, first in zip(records[:30], answers, strict=True):
            assert predict(client, [record])["predictions"] == first["predictions"]
        wait_for_shadows(client)
        metrics = client.get("/metrics").text
    assert 'stead_shadow_predictions_total{endpoint="credit",version="credit@2"} 30.0' in metrics
    assert 'stead_shadow_errors_total{endpoint="credit",version="credit@2"} 30.0' in metrics
    rows = logged(dep_dir)
    shadows = rows[rows["role"] == "shadow"]
    assert len(shadows) == 60 and set(shadows["model_version"]) == {LOGISTIC}
    production = rows[rows["role"] == "production"].set_index("request_id")
    compared = shadows[shadows["error"].isna()]
    assert len(compared) == 30 and set(compared["request_id"]) <= set(production.index)
    agrees = compared["outputs.agrees"].astype(bool)
    same = (
        compared["outputs.prediction"].to_numpy()
        == production.loc[compared["request_id"], "outputs.prediction"].to_numpy()
    )
    assert (agrees.to_numpy() == same).all()
    assert shadows["error"].dropna().str.contains("shadow exploded").sum() == 30


def test_the_fallback_answers_when_the_model_raises(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with serving(dep_dir) as client:
        model = runtime_of(client).pool.get(TREES)

        def broken(arrays: Any, rows: int) -> Any:
            raise ValueError("corrupted coefficients")

        model.runner.predict = broken
        body = predict(client)
        assert body["fallback"] is True and body["model_version"] == "credit@1:baseline"
        assert set(body["predictions"][0]["probabilities"]) == {"0", "1"}
        metrics = client.get("/metrics").text
        assert (
            'stead_fallbacks_total{endpoint="credit",reason="error",version="credit@1"} 1.0'
            in metrics
        )
    rows = logged(dep_dir).set_index("role")
    assert "corrupted coefficients" in rows.loc["production", "error"]
    assert rows.loc["fallback", "model_version"] == "credit@1:baseline"


def test_the_fallback_answers_when_the_model_exceeds_the_latency_budget(dep_dir: Path) -> None:
    set_tables(dep_dir, {"serving": {"latency_budget": 0.05}})
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with serving(dep_dir) as client:
        runner = runtime_of(client).pool.get(TREES).runner
        fast = runner.predict

        def slow(arrays: Any, rows: int) -> Any:
            time.sleep(0.3)
            return fast(arrays, rows)

        runner.predict = slow
        body = predict(client)
        assert body["fallback"] is True
        runner.predict = fast
        time.sleep(0.4)  # the slow call still holds the model's thread until it ends
        assert predict(client)["fallback"] is False
    rows = logged(dep_dir)
    failed = rows[rows["role"] == "production"]["error"].dropna()
    assert failed.str.contains("latency budget of 50 ms").any()


def test_outputs_are_the_same_bits_whatever_the_batch(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    records = credit_frame()[["income", "age", "region"]].tail(64).to_dict("records")
    for ref in (TREES, LOGISTIC):
        with Workspace.open(dep_dir) as ws:
            if ref == LOGISTIC:
                ws.models.promote(LOGISTIC, to="production")
                ws.endpoints.deploy("credit", LOGISTIC)
        with serving(dep_dir) as client:
            alone = [predict(client, [r])["predictions"][0] for r in records]
            together = predict(client, records)["predictions"]
            with ThreadPoolExecutor(16) as pool:
                concurrent = list(
                    pool.map(lambda r: predict(client, [r])["predictions"][0], records)
                )
        strip = [{k: v for k, v in p.items() if k != "request_id"} for p in together]
        assert strip == alone == concurrent, ref


@ON_BOTH_STORES
def test_a_new_revision_is_followed_and_a_rollback_needs_no_load(dep_dir: Path) -> None:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES)
    with serving(dep_dir) as client, Workspace.open(dep_dir) as ws:
        assert predict(client)["revision"] == 1
        ws.endpoints.canary("credit", LOGISTIC, share=100)
        wait_for_revision(client, 2)
        assert predict(client)["model_version"] == LOGISTIC
        pool = runtime_of(client).pool
        loaded = {ref: pool.get(ref) for ref in pool.refs}
        ws.endpoints.rollback("credit", reason="canary misbehaves")
        wait_for_revision(client, 3)
        assert {ref: pool.get(ref) for ref in pool.refs} == loaded  # nothing reloaded
        body = predict(client)
        assert (body["revision"], body["model_version"]) == (3, TREES)
