"""The Open Inference Protocol (V2) REST API, so standard clients (KServe, Triton's
``tritonclient.http``, Seldon MLServer's) can call stead. A model is an endpoint.

- ``GET /v2``, ``GET /v2/health/live``, ``GET /v2/health/ready``
- ``GET /v2/models/{name}`` (metadata: inputs from the contract, outputs),
  ``GET /v2/models/{name}/ready``
- ``POST /v2/models/{name}/infer``: either one named input per contract column (shape
  ``[n]`` or ``[n, 1]``), or a single 2-D input of shape ``[n, columns]`` whose columns
  are the contract's in order. Answers ``predict`` (shape ``[n]``) and, for
  classifiers with probabilities, ``predict_proba`` (shape ``[n, classes]``, classes
  in the order of ``parameters.classes``). ``parameters`` also carries the revision,
  whether the fallback answered and, for several records, each record's request id.

Tensors travel as JSON ``data`` or, by the binary tensor data extension, as raw bytes
after the JSON (see :mod:`stead.serving.http.oip_binary`), in and out.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stead.core.errors import UsageError
from stead.serving.errors import NotReady, Unprocessable
from stead.serving.http import oip_binary
from stead.serving.http.answering import answer, request_id, runtime
from stead.serving.http.auth import require
from stead.serving.http.fast_path import Call, Result
from stead.serving.http.readiness import readiness
from stead.serving.http.responses import json_response, load
from stead.serving.http.schemas import InferBody, validate
from stead.serving.predict.request import Answer, PredictRequest

DATATYPES = {
    "int": "INT64",
    "float": "FP64",
    "bool": "BOOL",
    "string": "BYTES",
    "datetime": "BYTES",
}


async def server_metadata(request: Request) -> Response:
    require(request, "viewer")
    return json_response(
        {
            "name": "stead",
            "version": importlib.metadata.version("stead"),
            "extensions": ["binary_tensor_data"],
        }
    )


async def live(request: Request) -> Response:
    return json_response({"live": True})


async def ready(request: Request) -> Response:
    is_ready = readiness(runtime(request)).ready
    return json_response({"ready": is_ready}, 200 if is_ready else 503)


async def model_metadata(request: Request) -> Response:
    require(request, "viewer")
    name = request.path_params["name"]
    rt = runtime(request)
    live_endpoint = rt.engine.live(name)
    assert rt.pool is not None
    served = rt.pool.get(live_endpoint.deployment.production)
    outputs: list[dict[str, Any]] = [
        {"name": "predict", "datatype": _label_type(served.runner.classes), "shape": [-1]}
    ]
    if served.runner.scores == "probabilities":
        outputs.append(
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(served.runner.classes)]}
        )
    if served.runner.scores == "values":
        outputs = [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    return json_response(
        {
            "name": name,
            "versions": [live_endpoint.deployment.production],
            "platform": "stead_sklearn",
            "inputs": [
                {"name": c.name, "datatype": DATATYPES[c.kind], "shape": [-1]}
                for c in served.edge.contract.columns
            ],
            "outputs": outputs,
            "parameters": {
                "revision": live_endpoint.revision,
                "classes": served.runner.classes,
            },
        }
    )


async def model_ready(request: Request) -> Response:
    require(request, "viewer")
    name = request.path_params["name"]
    try:
        runtime(request).engine.live(name)
    except NotReady:
        return json_response({"name": name, "ready": False}, 503)
    return json_response({"name": name, "ready": True})


async def infer(call: Call) -> Result:
    require(call, "predictor")
    name = call.path_params["name"]
    framed = call.headers.get(oip_binary.HEADER)
    tensors = None
    if framed is None:
        payload = _load(call.body)
    else:
        payload, tensors = oip_binary.read_header(call.body, framed)
    if tensors is not None:
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(t, dict) for t in inputs):
            raise UsageError(
                'an inference request is {"inputs": [{"name", "shape", "datatype", '
                '"parameters": {"binary_data_size": N}}]} before its binary data'
            )
        oip_binary.read_inputs(inputs, tensors)
    # Binary inputs have their "data" now: one schema for both forms.
    validate(InferBody, payload, operation="POST /v2/models/{name}/infer")
    binary = oip_binary.binary_outputs(payload)
    rt = call.runtime
    served = rt.pool.get(rt.engine.live(name).deployment.production)
    try:
        columns = _columns(payload["inputs"], served.edge.names)
    except UsageError as shapes:  # of the schema, but the tensors do not fit the model
        raise Unprocessable(shapes.message) from None
    # The request's "id" is the client's request id (an empty one is none at all).
    rid, client_id = request_id(call, payload.get("id") or None)
    wanted = {o.get("name") for o in payload.get("outputs") or [] if isinstance(o, dict)}
    prediction = PredictRequest(
        endpoint=name,
        request_id=rid,
        columns=columns,
        entity_key=call.headers.get("x-entity-key"),
    )
    classes = served.runner.classes
    return await answer(
        call,
        prediction,
        client_id=client_id,
        render=lambda a: _response(name, a, wanted, classes),
        encode=None if binary is None else lambda body: oip_binary.encode(body, binary),
    )


def _load(body: bytes) -> Any:
    try:
        return load(body)
    except UsageError as exc:
        if b'"binary_data_size"' in body:
            raise UsageError(
                f"{exc.message}; a request with binary tensor data needs the "
                "Inference-Header-Content-Length header (the byte length of its JSON)"
            ) from exc
        raise


def _columns(inputs: list[Any], names: list[str]) -> dict[str, list[Any]]:
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or "name" not in tensor or "data" not in tensor:
            if oip_binary.binary_size(tensor, f"inputs[{position}]") is not None:
                raise UsageError(
                    f"inputs[{position}] is binary (binary_data_size) but the request has no "
                    "Inference-Header-Content-Length header (the byte length of its JSON)"
                )
            raise UsageError('each input needs "name", "shape", "datatype" and "data"')
    if len(inputs) == 1 and inputs[0]["name"] not in names:
        tensor = inputs[0]
        shape = tensor.get("shape") or []
        data = _flat(tensor["data"])
        width = len(names)
        if len(shape) != 2 or shape[1] != width or len(data) != shape[0] * width:
            raise UsageError(
                f"a single input {tensor['name']!r} must be 2-D, shape [n, {width}], with the "
                f"columns in this order: {', '.join(names)}; or send one input per column"
            )
        rows = shape[0]
        return {name: [data[r * width + j] for r in range(rows)] for j, name in enumerate(names)}
    columns: dict[str, list[Any]] = {}
    for tensor in inputs:
        data = _flat(tensor["data"])
        shape = tensor.get("shape") or [len(data)]
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1) or shape[0] != len(data):
            raise UsageError(
                f"input {tensor['name']!r}: one value per record, shape [n] or [n, 1]; got "
                f"shape {shape} with {len(data)} values"
            )
        columns[str(tensor["name"])] = data
    return columns


def _flat(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise UsageError("tensor data must be a list (flat, or nested by shape)")
    if data and isinstance(data[0], list):
        out: list[Any] = []
        for item in data:
            out.extend(_flat(item) if isinstance(item, list) else [item])
        return out
    return data


def _label_type(classes: list[Any]) -> str:
    if classes and all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if classes and all(isinstance(c, int) for c in classes):
        return "INT64"
    return "BYTES"


def _response(name: str, result: Answer, wanted: set[Any], classes: list[Any]) -> dict[str, Any]:
    rows = len(result.outputs)
    outputs: list[dict[str, Any]] = []
    if "value" in result.outputs[0]:
        outputs.append(
            {
                "name": "predict",
                "datatype": "FP64",
                "shape": [rows],
                "data": [o.get("value") for o in result.outputs],
            }
        )
    else:
        labels = [o.get("prediction") for o in result.outputs]
        outputs.append(
            {"name": "predict", "datatype": _label_type(labels), "shape": [rows], "data": labels}
        )
        if all("probabilities" in o for o in result.outputs):
            keys = [str(c) for c in classes]
            flat = [o["probabilities"].get(k) for o in result.outputs for k in keys]
            outputs.append(
                {
                    "name": "predict_proba",
                    "datatype": "FP64",
                    "shape": [rows, len(keys)],
                    "data": flat,
                }
            )
    if wanted:
        outputs = [o for o in outputs if o["name"] in wanted]
    parameters: dict[str, Any] = {
        "revision": result.revision,
        "fallback": result.any_fallback,
        "classes": classes,
    }
    if rows > 1:
        parameters["request_ids"] = result.ids
    return {
        "model_name": name,
        "model_version": result.model_version,
        "id": result.request.request_id,
        "parameters": parameters,
        "outputs": outputs,
    }
