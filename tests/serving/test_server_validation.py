"""No request makes the server answer 500: every body is checked against its operation's
declared schema, and each refusal names the field, what was given and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stead.workspace import Workspace
from tests.serving.deployed import RECORD, TREES, predict, runtime_of, serving

PREDICT = "/v1/endpoints/credit/predict"
DEPLOY = "/v1/endpoints/credit/deployments"
ROLLBACK = "/v1/endpoints/credit/rollback"


@pytest.fixture
def deployed(dep_dir: Path) -> Path:
    with Workspace.open(dep_dir) as ws:
        ws.endpoints.deploy("credit", TREES, reason="first")
        ws.endpoints.shadow("credit", "credit@2", share=50, reason="compare")
    return dep_dir


REFUSED: list[tuple[str, Any, str, str]] = [
    # path, body, the field named, what the message says
    (DEPLOY, {"action": {}}, "action", "Input should be 'deploy', 'canary'"),
    (DEPLOY, {"action": [None]}, "action", "Input should be 'deploy'"),
    (DEPLOY, {"action": "canary", "model": "credit@2", "share": "abc"}, "share", "valid number"),
    (DEPLOY, {"action": "canary", "model": "credit@2", "share": None}, "share", "null is never"),
    (DEPLOY, {"action": "canary", "model": "credit@2", "share": 0}, "share", "greater than 0"),
    (DEPLOY, {"model": "credit@1", "fallback": {"a": 1}}, "fallback", "valid string"),
    (DEPLOY, {"model": "credit@1", "override": "false"}, "override", "valid boolean"),
    (DEPLOY, {"action": "canary"}, "(body)", "action 'canary' needs \"model\""),
    (ROLLBACK, {"to": True}, "to", "a whole number is needed, not bool"),
    (ROLLBACK, {"to": None}, "to", "null is never a value"),
    (ROLLBACK, {"reason": [1, 2]}, "reason", "valid string"),
    (PREDICT, {"columns": {"age": 5}}, "columns.age", "valid array"),
    (PREDICT, {"records": [{"age": {"nested": 1}}]}, "records[0].age", "not an object"),
    (
        PREDICT,
        {"records": [{"": 1}]},
        "records[0]",
        "a field name: String should have at least 1 character",
    ),
    (PREDICT, {"records": [RECORD], "columns": {"age": [1]}}, "(body)", "exactly one of"),
    (PREDICT, {"records": [RECORD], "typo": 1}, "typo", "Extra inputs are not permitted"),
    (
        "/v1/endpoints/credit/feedback",
        {"request_id": "r", "label": 1, "kpis": [1]},
        "kpis",
        "object",
    ),
    (
        "/invocations",
        {"dataframe_split": {"columns": ["a"], "data": 3}},
        "dataframe_split.data",
        "valid array",
    ),
]


def test_each_client_mistake_is_a_400_naming_the_field_given_and_allowed(deployed: Path) -> None:
    with serving(deployed) as client:
        for path, body, field, says in REFUSED:
            response = client.post(path, json=body)
            assert response.status_code == 400, (body, response.text)
            error = response.json()["error"]
            assert error["code"] == "usage_error"
            assert [e["field"] for e in error["details"]["errors"]][:1] == [field], body
            assert says in error["message"] and "see /openapi.json" in error["message"], body
        # Nothing was deployed or rolled back.
        assert len(client.get("/v1/endpoints/credit/history").json()) == 2


def test_a_huge_integer_and_a_deep_body_are_refused_not_crashed_on(deployed: Path) -> None:
    huge = b'{"records": [{"income": 1' + b"0" * 400 + b', "age": 33, "region": "south"}]}'
    deep = b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with serving(deployed) as client:
        big = client.post(PREDICT, content=huge, headers={"content-type": "application/json"})
        assert big.status_code == 400
        assert (
            "records[0].income: a whole number must fit in 64 bits"
            in big.json()["error"]["message"]
        )
        assert "0" * 100 not in big.text  # the value is shortened, never echoed whole
        for path in (PREDICT, DEPLOY, ROLLBACK, "/v2/models/credit/infer", "/invocations"):
            nested = client.post(path, content=deep, headers={"content-type": "application/json"})
            assert nested.status_code == 400, (path, nested.text)
            assert "nests too deeply" in nested.text
        assert predict(client)["predictions"]  # and the server answers on


def test_text_no_store_can_keep_is_refused_with_422_naming_the_field(deployed: Path) -> None:
    poisoned = b'{"records": [{"income": 41.5, "age": 33, "region": "\\ud800"}]}'
    paired = '{"records": [{"income": 41.5, "age": 33, "region": "\\ud83d\\ude00"}]}'
    infer = (
        b'{"inputs": [{"name": "region", "shape": [1], "datatype": "BYTES", "data": ["\\udfff"]}]}'
    )
    json_type = {"content-type": "application/json"}
    with serving(deployed) as client:
        refused = client.post(PREDICT, content=poisoned, headers=json_type)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "unstorable_text"
        assert refused.json()["error"]["details"] == {"field": "records[0].region"}
        oip = client.post("/v2/models/credit/infer", content=infer, headers=json_type)
        assert oip.status_code == 422 and "inputs[0].data[0]" in oip.json()["error"]
        # A valid surrogate pair is one character: it reaches the contract (unseen category).
        emoji = client.post(PREDICT, content=paired, headers=json_type)
        assert emoji.status_code == 422 and emoji.json()["error"]["code"] == "contract_violation"


def test_identifying_headers_are_bounded_and_never_echoed_whole(deployed: Path) -> None:
    with serving(deployed) as client:
        long_id = client.post(
            PREDICT, json={"records": [RECORD]}, headers={"X-Request-Id": "a" * 10_000}
        )
        assert long_id.status_code == 400
        assert long_id.json()["error"]["message"] == (
            "header X-Request-Id is 10000 characters long; at most 128 are allowed"
        )
        assert "a" * 200 not in long_id.text and len(long_id.headers["x-request-id"]) < 40
        key = client.post(
            PREDICT, json={"records": [RECORD]}, headers={"X-Entity-Key": "k" * 60_000}
        )
        assert key.status_code == 400
        assert key.json()["error"]["details"] == {
            "header": "X-Entity-Key",
            "length": 60_000,
            "max_length": 256,
        }
        bad_id = client.post(
            PREDICT, json={"records": [RECORD]}, headers={"X-Request-Id": "x y" * 40}
        )
        assert bad_id.status_code == 400 and "x yx y" * 20 not in bad_id.text
        assert predict(client, headers={"X-Entity-Key": "k" * 256})["predictions"]


def test_a_404_on_predict_does_not_list_the_endpoints(deployed: Path) -> None:
    with serving(deployed) as client:
        missing = client.post("/v1/endpoints/nope/predict", json={"records": [RECORD]})
    assert missing.status_code == 404
    assert "credit" not in missing.text


def test_unsupported_methods_get_405_with_allow(deployed: Path) -> None:
    with serving(deployed) as client:
        for method, path, allowed in (
            ("TRACE", "/healthz", "GET, HEAD"),
            ("DELETE", PREDICT, "POST"),
            ("PUT", "/v1/endpoints/credit", "GET, HEAD"),
        ):
            response = client.request(method, path)
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == allowed
            assert response.json()["error"]["code"] == "method_not_allowed"


def test_an_unexpected_exception_is_a_json_500_and_the_server_goes_on(
    deployed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(deployed) as client:  # the test client raises whatever reaches the server
        engine = runtime_of(client).engine

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(engine, "predict", broken)
        lean = client.post(PREDICT, json={"records": [RECORD]})
        assert lean.status_code == 500
        assert lean.json()["error"]["code"] == "internal_error"
        assert "RuntimeError" in lean.json()["error"]["message"]

        def broken_read(*args: Any) -> Any:
            raise KeyError("a bug")

        monkeypatch.setattr(runtime_of(client).ws.endpoints, "history", broken_read)
        routed = client.get("/v1/endpoints/credit/history")
        assert routed.status_code == 500 and routed.json()["error"]["code"] == "internal_error"
        assert routed.headers["x-request-id"].startswith("rq")
        assert "stead_request_errors_total" in client.get("/metrics").text


def test_the_document_describes_every_route_the_server_has(deployed: Path) -> None:
    from stead.serving.http.app import ROUTES

    with serving(deployed, auth=True) as client:
        document = client.get("/openapi.json").json()
    served = {(m, r.path) for r in ROUTES for m in r.methods or () if m != "HEAD"}
    described = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert described == served
    for path in ("/v2/models/{name}/infer", "/invocations", "/ping", "/health"):
        assert path in document["paths"]
    assert "401" in document["paths"]["/metrics"]["get"]["responses"]
    predict_body = document["components"]["schemas"]["PredictBody"]
    assert predict_body["additionalProperties"] is False
    assert predict_body["oneOf"] == [{"required": ["records"]}, {"required": ["columns"]}]
    record = predict_body["properties"]["records"]["items"]
    assert record["propertyNames"]["minLength"] == 1


def test_an_oip_request_id_the_server_would_refuse_is_refused_by_the_schema(
    deployed: Path,
) -> None:
    # The document allowed any "id" up to 128 characters, the server only the
    # X-Request-Id alphabet: a schema-valid request was refused (found by fuzzing).
    body = {
        "id": "\u0091",
        "inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [30]}],
    }
    with serving(deployed) as client:
        response = client.post("/v2/models/credit/infer", json=body)
        document = client.get("/openapi.json").json()
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["details"]["errors"]] == ["id"]
    infer = document["components"]["schemas"]["InferBody"]["properties"]["id"]
    assert "pattern" in json.dumps(infer)
