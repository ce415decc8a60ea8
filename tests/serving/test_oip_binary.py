"""The Open Inference Protocol's binary tensor data extension, with ``tritonclient.http``
itself against a real ``stead serve`` on loopback: its default mode (binary inputs and
outputs) answers what its JSON mode answers, and bad framing is a 400 saying what is
wrong."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from stead.serving.http import oip_binary
from stead.workspace import Workspace
from tests.serving.deployed import TREES
from tests.serving.test_server_process import server

INFER = "/v2/models/credit/infer"
INCOME = [41.5, 55.0, 23.25, 80.0]
AGE = [33, 60, 21, 47]
REGION = ["south", "east", "north", "south"]


@pytest.fixture(scope="module")
def url(deployable_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("oip") / "ws"
    shutil.copytree(deployable_template, root)
    with Workspace.open(root) as ws:
        ws.endpoints.deploy("credit", TREES, reason="serve OIP clients")
    with server(root, workers=1) as served:
        yield served


def inputs(*, binary: bool, income_type: str = "FP64") -> list[triton.InferInput]:
    income = triton.InferInput("income", [len(INCOME), 1], income_type)
    income.set_data_from_numpy(
        np.array(INCOME, dtype=np.float64 if income_type == "FP64" else np.float32).reshape(-1, 1),
        binary_data=binary,
    )
    age = triton.InferInput("age", [len(AGE)], "INT64")
    age.set_data_from_numpy(np.array(AGE, dtype=np.int64), binary_data=binary)
    region = triton.InferInput("region", [len(REGION)], "BYTES")
    region.set_data_from_numpy(np.array(REGION, dtype=np.object_), binary_data=binary)
    return [income, age, region]


def client(url: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url.removeprefix("http://"))


@pytest.mark.slow
def test_tritonclient_default_binary_mode_answers_what_json_mode_answers(url: str) -> None:
    oip = client(url)
    assert oip.is_server_live() and oip.is_model_ready("credit")
    assert "binary_tensor_data" in oip.get_server_metadata()["extensions"]
    # The default: binary inputs, no outputs named, so every output comes back binary.
    default = oip.infer("credit", inputs(binary=True), request_id="tc-binary")
    answer = default.get_response()
    assert (answer["id"], answer["model_version"]) == ("tc-binary", TREES)
    for output in answer["outputs"]:
        assert "data" not in output and output["parameters"]["binary_data_size"] > 0
    as_json = oip.infer(
        "credit",
        inputs(binary=False),
        outputs=[
            triton.InferRequestedOutput("predict", binary_data=False),
            triton.InferRequestedOutput("predict_proba", binary_data=False),
        ],
    )
    for output in as_json.get_response()["outputs"]:
        assert "data" in output and "parameters" not in output
    labels, proba = default.as_numpy("predict"), default.as_numpy("predict_proba")
    assert labels.dtype == np.int64 and labels.shape == (4,)
    assert proba.dtype == np.float64 and proba.shape == (4, 2)
    np.testing.assert_array_equal(labels, as_json.as_numpy("predict"))
    np.testing.assert_array_equal(proba, as_json.as_numpy("predict_proba"))
    # The same bits as the native API for the same records.
    records = [
        {"income": i, "age": a, "region": r} for i, a, r in zip(INCOME, AGE, REGION, strict=True)
    ]
    native = httpx.post(f"{url}/v1/endpoints/credit/predict", json={"records": records}).json()
    assert labels.tolist() == [p["prediction"] for p in native["predictions"]]
    assert proba.tolist() == [
        [p["probabilities"][k] for k in ("0", "1")] for p in native["predictions"]
    ]
    # FP32 income (exact values), one output binary, the other JSON, mixed in one answer.
    mixed = oip.infer(
        "credit",
        inputs(binary=True, income_type="FP32"),
        outputs=[
            triton.InferRequestedOutput("predict", binary_data=False),
            triton.InferRequestedOutput("predict_proba", binary_data=True),
        ],
    )
    by_name = {o["name"]: o for o in mixed.get_response()["outputs"]}
    assert by_name["predict"]["data"] == labels.tolist()
    assert "data" not in by_name["predict_proba"]
    np.testing.assert_array_equal(mixed.as_numpy("predict_proba"), proba)


@pytest.mark.slow
def test_a_repeated_binary_request_replays_the_stored_answer_in_binary(url: str) -> None:
    body, json_size = triton.InferenceServerClient.generate_request_body(
        inputs(binary=True), request_id="tc-replay"
    )
    headers = {"Inference-Header-Content-Length": str(json_size)}
    first = httpx.post(f"{url}{INFER}", content=body, headers=headers)
    again = httpx.post(f"{url}{INFER}", content=body, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert first.headers["content-type"] == again.headers["content-type"] == oip_binary.OCTETS
    assert again.content == first.content
    parsed = triton.InferenceServerClient.parse_response_body(
        again.content, header_length=int(again.headers["inference-header-content-length"])
    )
    assert parsed.as_numpy("predict_proba").shape == (4, 2)


def framed(*, header: bytes | None = None, tail: bytes = b"", **change: Any) -> tuple[bytes, str]:
    """A valid binary request of the three inputs, with ``change`` applied to its JSON."""
    income = struct.pack("<2d", *INCOME[:2])
    age = struct.pack("<2q", *AGE[:2])
    region = b"".join(struct.pack("<I", len(r)) + r.encode() for r in REGION[:2])
    tensors = {"income": ("FP64", income), "age": ("INT64", age), "region": ("BYTES", region)}
    request: dict[str, Any] = {
        "inputs": [
            {
                "name": name,
                "shape": [2],
                "datatype": datatype,
                "parameters": {"binary_data_size": len(raw)},
            }
            for name, (datatype, raw) in tensors.items()
        ]
    }
    for name, fields in change.items():
        tensor = next(t for t in request["inputs"] if t["name"] == name)
        tensor.update(fields)
    head = json.dumps(request).encode()
    raws = [raw for _, raw in tensors.values()]
    return head + b"".join(raws) + tail, str(len(head)) if header is None else header.decode()


BAD_FRAMING = {
    "header length beyond the body": (
        {"header": b"99999"},
        "Inference-Header-Content-Length is 99999 but the body has only",
    ),
    "header length not a number": ({"header": b"twelve"}, "got 'twelve'"),
    "header length that cuts the JSON": (
        {"header": b"10"},
        "the first 10 bytes of the body (Inference-Header-Content-Length) must be the "
        "request's JSON",
    ),
    "bytes left over after the inputs": (
        {"tail": b"\x00" * 3},
        "52 bytes follow the JSON header (Inference-Header-Content-Length) but the inputs' binary_data_size add up to 49",
    ),
    "a size past the end": (
        {"region": {"parameters": {"binary_data_size": 40}}},
        "input 'region': binary_data_size is 40 bytes but only 17 bytes are left",
    ),
    "a size that does not fit the shape": (
        {"age": {"shape": [3]}},
        "input 'age': shape [3] of INT64 is 3 values of 8 bytes, 24 bytes, but "
        "binary_data_size is 16",
    ),
    "a BYTES tensor with fewer strings than its shape": (
        {"region": {"shape": [3]}},
        "input 'region' (BYTES): shape [3] is 3 values but its binary_data_size bytes hold 2",
    ),
    "an unknown datatype": ({"age": {"datatype": "INT128"}}, "datatype 'INT128' is not one of"),
    "a negative size": (
        {"age": {"parameters": {"binary_data_size": -16}}},
        "inputs[1]: parameters.binary_data_size must be a byte count",
    ),
    "binary and JSON data at once": (
        {"age": {"data": [1, 2]}},
        'input \'age\' has both "data" and "binary_data_size"',
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_FRAMING, ids=list(BAD_FRAMING))
def test_bad_binary_framing_is_a_400_saying_what_is_wrong(url: str, case: str) -> None:
    change, message = BAD_FRAMING[case]
    body, length = framed(**change)
    response = httpx.post(
        f"{url}{INFER}", content=body, headers={"Inference-Header-Content-Length": length}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "usage_error"
    assert message in response.json()["error"]


@pytest.mark.slow
def test_bad_strings_and_a_missing_header_are_named(url: str) -> None:
    head = json.dumps(
        {
            "inputs": [
                {"name": "region", "shape": [2], "datatype": "BYTES"},
            ]
        }
    )
    cut = struct.pack("<I", 5) + b"south" + b"\x02\x00"
    request = json.loads(head)
    request["inputs"][0]["parameters"] = {"binary_data_size": len(cut)}
    text = json.dumps(request).encode()
    truncated = httpx.post(
        f"{url}{INFER}",
        content=text + cut,
        headers={"Inference-Header-Content-Length": str(len(text))},
    )
    assert truncated.status_code == 400
    assert "element 1's 4-byte length runs past the input's 11 bytes" in truncated.json()["error"]
    latin = struct.pack("<I", 4) + "sür".encode("latin-1") + b"!" + struct.pack("<I", 1) + b"x"
    request["inputs"][0]["parameters"] = {"binary_data_size": len(latin)}
    text = json.dumps(request).encode()
    not_text = httpx.post(
        f"{url}{INFER}",
        content=text + latin,
        headers={"Inference-Header-Content-Length": str(len(text))},
    )
    assert not_text.status_code == 400
    assert "input 'region' (BYTES): element 0 is not UTF-8 text" in not_text.json()["error"]
    body, _ = framed()
    unframed = httpx.post(f"{url}{INFER}", content=body)
    assert unframed.status_code == 400
    assert "needs the Inference-Header-Content-Length header" in unframed.json()["error"]


def test_binary_outputs_decode_in_tritonclient_with_strings_bools_and_missing_floats() -> None:
    body = {
        "model_name": "m",
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [3], "data": ["yes", "nö", None]},
            {"name": "flag", "datatype": "BOOL", "shape": [3], "data": [True, False, True]},
            {"name": "score", "datatype": "FP64", "shape": [3], "data": [0.5, None, -1.0]},
            {"name": "rank", "datatype": "INT64", "shape": [3], "data": [3, 1, 2]},
        ],
    }
    content, headers = oip_binary.encode(body, lambda name: name != "rank")
    assert headers["content-type"] == oip_binary.OCTETS
    result = triton.InferenceServerClient.parse_response_body(
        content, header_length=int(headers[oip_binary.HEADER])
    )
    assert result.as_numpy("label").tolist() == [b"yes", "nö".encode(), b""]
    assert result.as_numpy("flag").tolist() == [True, False, True]
    score = result.as_numpy("score")
    assert score[0] == 0.5 and np.isnan(score[1]) and score[2] == -1.0
    assert result.get_output("rank")["data"] == [3, 1, 2]
    # Nothing asked as binary: plain JSON, no framing header.
    plain, none = oip_binary.encode(body, lambda name: False)
    assert none == {} and json.loads(plain)["outputs"][3]["data"] == [3, 1, 2]
