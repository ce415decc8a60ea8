"""The HTTP server through Starlette's test client: the native API, the Open Inference
Protocol, MLflow's format, errors, limits, idempotency and the operational routes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stead.workspace import Workspace
from tests.serving.deployed import RECORD, TREES, predict, runtime_of, serving
from tests.stores import ON_BOTH_STORES
from tests.training.projects import set_tables

COLUMNS = ["income", "age", "region"]


@pytest.fixture
def deployed(dep_dir: Path) -> Path:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES, reason="first")
    return dep_dir


def logged(root: Path, endpoint: str = "credit") -> list[dict[str, object]]:
    with Workspace.open(root) as ws:
        frame = ws.predictions.read(endpoint)
    return frame.to_dict("records")  # type: ignore[return-value]


def test_predict_answers_with_request_id_revision_version_and_fallback(deployed: Path) -> None:
    with serving(deployed) as client:
        response = client.post("/v1/endpoints/credit/predict", json={"records": [RECORD]})
        assert response.status_code == 200
        body = response.json()
        assert body["request_id"] == response.headers["x-request-id"]
        assert (body["endpoint"], body["revision"], body["model_version"]) == ("credit", 1, TREES)
        assert body["fallback"] is False
        [prediction] = body["predictions"]
        assert prediction["prediction"] in (0, 1)
        assert set(prediction["probabilities"]) == {"0", "1"}
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
        # The columnar form gives the same bits.
        columnar = predict(client, None, columns={k: [v] for k, v in RECORD.items()})
        assert columnar["predictions"] == body["predictions"]
        several = predict(client, [RECORD, {**RECORD, "age": 60}])
        ids = [p["request_id"] for p in several["predictions"]]
        assert ids == [f"{several['request_id']}.0", f"{several['request_id']}.1"]
        assert several["predictions"][0]["probabilities"] == prediction["probabilities"]
    rows = logged(deployed)
    assert len(rows) == 4
    first = next(r for r in rows if r["request_id"] == body["request_id"])
    assert (first["model_version"], first["role"], first["revision"]) == (TREES, "production", 1)
    assert first["inputs.age"] == 33 and pd.isna(first["error"])
    with Workspace.open(deployed) as ws:
        version = ws.models.get(TREES)
    assert first["feature_set_version"] == version.feature_set_version
    assert first["snapshot"] == version.snapshot_ref
    assert first["outputs.probabilities.1"] == prediction["probabilities"]["1"]


def test_a_contract_violation_is_422_with_field_record_and_stable_code(deployed: Path) -> None:
    with serving(deployed) as client:
        response = client.post(
            "/v1/endpoints/credit/predict",
            json={"records": [RECORD, {**RECORD, "age": "old", "region": "west"}]},
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "contract_violation"
        found = [(v["column"], v["kind"], v["rows"]) for v in error["details"]["violations"]]
        assert found == [("age", "wrong_type", [1]), ("region", "unseen_category", [1])]
        assert "field 'age' expects whole numbers (int) in record 1" in error["message"]
        metrics = client.get("/metrics").text
        assert (
            'stead_request_errors_total{code="contract_violation",endpoint="credit"} 1.0' in metrics
        )
    # No model ran: both records are logged as refused, for the schema monitor, unanswered.
    rows = logged(deployed)
    assert [r["role"] for r in rows] == ["rejected", "rejected"]
    assert all(pd.isna(r.get("outputs.prediction")) for r in rows)


def test_errors_have_one_shape_and_the_status_of_their_class(deployed: Path) -> None:
    with serving(deployed) as client:
        missing = client.post("/v1/endpoints/nope/predict", json={"records": [RECORD]})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert "no endpoint named 'nope'" in missing.json()["error"]["message"]
        bad = client.post(
            "/v1/endpoints/credit/predict",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "usage_error"
        both = client.post("/v1/endpoints/credit/predict", json={"records": [], "columns": {}})
        assert both.status_code == 400
        empty = client.post("/v1/endpoints/credit/predict", json={"records": []})
        assert empty.status_code == 400
        assert "records: List should have at least 1 item" in empty.json()["error"]["message"]
        unknown_path = client.get("/v1/nothing")
        assert (
            unknown_path.status_code == 404 and unknown_path.json()["error"]["code"] == "not_found"
        )
        bad_id = client.post(
            "/v1/endpoints/credit/predict", json={"records": [RECORD], "request_id": "no spaces!"}
        )
        assert (
            bad_id.status_code == 400
            and "request_id: String should match pattern" in (bad_id.json()["error"]["message"])
        )


def test_body_size_and_records_per_request_are_limited(deployed: Path) -> None:
    set_tables(deployed, {"serving": {"max_records": 3, "max_body_bytes": 2048}})
    with serving(deployed) as client:
        many = client.post("/v1/endpoints/credit/predict", json={"records": [RECORD] * 4})
        assert many.status_code == 413
        assert many.json()["error"]["code"] == "payload_too_large"
        assert many.json()["error"]["details"]["max_records"] == 3
        big = client.post(
            "/v1/endpoints/credit/predict",
            json={"records": [{**RECORD, "padding": "x" * 4000}]},
        )
        assert big.status_code == 413 and "2048 bytes" in big.json()["error"]["message"]
        assert predict(client, [RECORD] * 3)["predictions"]


@ON_BOTH_STORES
def test_a_repeated_idempotency_key_returns_the_stored_response_logged_once(
    deployed: Path,
) -> None:
    with serving(deployed) as client:
        headers = {"Idempotency-Key": "order-1234"}
        first = client.post(
            "/v1/endpoints/credit/predict", json={"records": [RECORD]}, headers=headers
        )
        again = client.post(
            "/v1/endpoints/credit/predict", json={"records": [RECORD]}, headers=headers
        )
        assert first.status_code == again.status_code == 200
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        other = client.post(
            "/v1/endpoints/credit/predict",
            json={"records": [{**RECORD, "age": 50}]},
            headers=headers,
        )
        assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
        # A client-chosen request id is an idempotency key too.
        mine = {"X-Request-Id": "client-req-1"}
        one = client.post("/v1/endpoints/credit/predict", json={"records": [RECORD]}, headers=mine)
        two = client.post("/v1/endpoints/credit/predict", json={"records": [RECORD]}, headers=mine)
        assert one.json()["request_id"] == "client-req-1" and two.content == one.content
    rows = logged(deployed)
    assert sorted(r["request_id"] for r in rows) == sorted(
        [first.json()["request_id"], "client-req-1"]
    )


def test_the_open_inference_protocol(deployed: Path) -> None:
    with serving(deployed) as client:
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2/models/credit/ready").json() == {"name": "credit", "ready": True}
        meta = client.get("/v2/models/credit").json()
        assert meta["versions"] == [TREES]
        assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
            ("income", "FP64"),
            ("age", "INT64"),
            ("region", "BYTES"),
        ]
        assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
        # What tritonclient.http / KServe's InferenceRESTClient send: one input per column.
        request = {
            "id": "oip-1",
            "inputs": [
                {"name": "income", "shape": [2, 1], "datatype": "FP64", "data": [41.5, 55.0]},
                {"name": "age", "shape": [2], "datatype": "INT64", "data": [33, 60]},
                {"name": "region", "shape": [2], "datatype": "BYTES", "data": ["south", "east"]},
            ],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        }
        answer = client.post("/v2/models/credit/infer", json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["model_name"], body["model_version"], body["id"]) == ("credit", TREES, "oip-1")
        by_name = {o["name"]: o for o in body["outputs"]}
        assert by_name["predict"]["shape"] == [2] and by_name["predict"]["datatype"] == "INT64"
        assert by_name["predict_proba"]["shape"] == [2, 2]
        native = predict(client, [RECORD, {"income": 55.0, "age": 60, "region": "east"}])
        flat = [p["probabilities"][k] for p in native["predictions"] for k in ("0", "1")]
        assert by_name["predict_proba"]["data"] == flat
        assert body["parameters"]["request_ids"] == ["oip-1.0", "oip-1.1"]
        # One 2-D input, columns in the contract's order.
        tensor = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, 3],
                    "datatype": "BYTES",
                    "data": [[41.5, 33, "south"]],
                }
            ],
            "outputs": [{"name": "predict_proba"}],
        }
        single = client.post("/v2/models/credit/infer", json=tensor).json()
        assert [o["name"] for o in single["outputs"]] == ["predict_proba"]
        assert single["outputs"][0]["data"] == flat[:2]
        wrong = client.post(
            "/v2/models/credit/infer",
            json={"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]},
        )
        assert wrong.status_code == 422
        assert wrong.json()["code"] == "unprocessable" and "shape [n, 3]" in wrong.json()["error"]
        inputs = request["inputs"]
        bad = {"inputs": [{**inputs[0], "data": [41.5, "x"]}, *inputs[1:]]}
        refused = client.post("/v2/models/credit/infer", json=bad)
        assert refused.status_code == 422 and isinstance(refused.json()["error"], str)


def test_mlflow_scoring_format_for_teams_leaving_mlflow_serve(deployed: Path) -> None:
    with serving(deployed) as client:
        split = {"dataframe_split": {"columns": COLUMNS, "data": [[41.5, 33, "south"]]}}
        answer = client.post("/invocations", json=split)
        assert answer.status_code == 200
        assert answer.json() == {"predictions": [predict(client)["predictions"][0]["prediction"]]}
        assert answer.headers["x-stead-model-version"] == TREES
        assert answer.headers["x-stead-revision"] == "1"
        records = client.post("/invocations", json={"dataframe_records": [RECORD, RECORD]})
        assert len(records.json()["predictions"]) == 2
        assert client.get("/ping").status_code == 200
        nothing = client.post("/invocations", json={"other": 1})
        assert (
            nothing.status_code == 400 and "dataframe_split" in nothing.json()["error"]["message"]
        )
    with Workspace.open(deployed) as ws:
        ws.endpoints.deploy("second", TREES)
    with serving(deployed) as client:
        ambiguous = client.post("/invocations", json=split)
        assert ambiguous.status_code == 400 and "default_endpoint" in ambiguous.text
    set_tables(deployed, {"serving": {"default_endpoint": "second"}})
    with serving(deployed) as client:
        chosen = client.post("/invocations", json=split)
        assert chosen.status_code == 200
    assert len(logged(deployed, "second")) == 1


def test_operational_routes(deployed: Path) -> None:
    with serving(deployed) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"ready": True, "endpoints": {"credit": 1}}
        document = client.get("/openapi.json").json()
        assert document["openapi"].startswith("3.")
        assert "/v1/endpoints/{name}/predict" in document["paths"]
        predict(client)
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert (
            'stead_requests_total{endpoint="credit",role="production",version="credit@1"} 1.0'
            in text
        )
        assert (
            'stead_request_latency_seconds_count{endpoint="credit",version="credit@1"} 1.0' in text
        )
        assert 'stead_endpoint_revision{endpoint="credit"} 1.0' in text
        shown = client.get("/v1/endpoints/credit").json()
        assert shown["revision"] == 1 and shown["served"]["revision"] == 1
        served = {m["ref"]: m for m in shown["served"]["models"]}
        assert served[TREES]["batch_invariant"] == "verified on probe rows"
        assert [e["name"] for e in client.get("/v1/endpoints").json()] == ["credit"]
        assert len(client.get("/v1/endpoints/credit/history").json()) == 1


@ON_BOTH_STORES
def test_deployments_change_over_http_and_servers_follow(deployed: Path) -> None:
    with serving(deployed) as client:
        changed = client.post(
            "/v1/endpoints/credit/deployments",
            json={"action": "shadow", "model": "credit@2", "share": 50, "reason": "compare"},
        )
        assert changed.status_code == 201, changed.text
        assert changed.json()["deployment"]["revision"] == 2
        refused = client.post(
            "/v1/endpoints/credit/deployments", json={"action": "canary", "model": "credit@3"}
        )
        assert refused.status_code == 412 and refused.json()["error"]["code"] == "gate_failed"
        back = client.post("/v1/endpoints/credit/rollback", json={"reason": "undo"})
        assert back.status_code == 201 and back.json()["deployment"]["restores"] == 1
        rt = runtime_of(client)
        rt.watcher.refresh()
        assert rt.watcher.table["credit"].revision == 3
        assert predict(client)["revision"] == 3


def test_explanations_per_record_when_asked(deployed: Path) -> None:
    with serving(deployed) as client:
        body = predict(client, [RECORD, {**RECORD, "region": "east"}], endpoint="credit")
        assert "explanation" not in body["predictions"][0]
        response = client.post(
            "/v1/endpoints/credit/predict?explain=true", json={"records": [RECORD]}
        )
        assert response.status_code == 200, response.text
        [answer] = response.json()["predictions"]
        explanation = answer["explanation"]
        assert set(explanation) == set(COLUMNS)
        assert all(isinstance(v, float) for v in explanation.values())
        # The base value is given, so base + contributions = the explained output checks.
        explained = answer["explained"]
        total = answer["explanation_base"] + sum(explanation.values())
        assert total == pytest.approx(explained["value"], abs=1e-9)
        assert explained["output"] in {"log_odds", "probability", "decision", "value"}
        assert explained["method"] in {"linear", "tree", "shapley", "permutation"}
        assert explained["class"] == 1


def test_feedback_joins_a_logged_prediction_by_request_id(deployed: Path) -> None:
    set_tables(deployed, {"serving": {"log": {"mode": "sync"}}})
    with serving(deployed) as client:
        rid = predict(client)["request_id"]
        stored = client.post(
            "/v1/endpoints/credit/feedback",
            json={"request_id": rid, "label": 1, "kpis": {"revenue": 10.0}},
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["stored"] == 1
        unknown = client.post(
            "/v1/endpoints/credit/feedback", json={"request_id": "rq-never", "label": 0}
        )
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_pii_sent_with_a_record_is_accepted_never_given_to_the_model_and_logged_hashed(
    deployed: Path,
) -> None:
    set_tables(deployed, {"columns": {"id": "customer_id", "target": "default", "pii": ["email"]}})
    with serving(deployed) as client:
        plain = predict(client, [RECORD])
        with_pii = predict(client, [{**RECORD, "email": "ada@example.com"}])
        # Not a model input: the same answer, bit for bit.
        assert (
            with_pii["predictions"][0]["probabilities"] == plain["predictions"][0]["probabilities"]
        )
        refused = client.post(
            "/v1/endpoints/credit/predict", json={"records": [{**RECORD, "nickname": "ada"}]}
        )
        assert refused.status_code == 422  # an unknown field is still refused
    row = next(r for r in logged(deployed) if r["request_id"] == with_pii["request_id"])
    assert row["inputs.email"] and row["inputs.email"] != "ada@example.com"
    raw = b"".join(p.read_bytes() for p in (deployed / ".stead" / "predictions").rglob("*.parquet"))
    assert b"ada@example.com" not in raw


def test_a_refused_request_is_logged_as_rejected_for_the_schema_monitor(deployed: Path) -> None:
    with serving(deployed) as client:
        refused = client.post(
            "/v1/endpoints/credit/predict", json={"records": [{**RECORD, "age": "old"}]}
        )
        assert refused.status_code == 422
        request_id = refused.headers["x-request-id"]
    [row] = [r for r in logged(deployed) if r["request_id"] == request_id]
    assert row["role"] == "rejected" and row["model_version"] == TREES
    assert str(row["error"]).startswith("contract_violation:")
    # Stored apart from the accepted traffic's columns, as one bounded JSON text.
    assert json.loads(row["refused_inputs"])["age"] == "old"
    assert "inputs.age" not in row or row["inputs.age"] is None
