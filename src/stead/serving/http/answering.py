"""Answering a prediction request, the same for every protocol: replay a stored response
for a repeated idempotency key, else predict, store, log, respond."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from stead.core.errors import ContractViolation
from stead.serving.http.fast_path import Call, Result
from stead.serving.http.request_ids import CLIENT_SUPPLIED, REQUEST_ID, check_request_id
from stead.serving.http.responses import dump
from stead.serving.http.worker_state import ServingRuntime
from stead.serving.predict.idempotency import StoredResponse, request_hash
from stead.serving.predict.request import Answer, PredictRequest

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
# How a rendered answer goes on the wire instead of JSON: its bytes and headers.
Encode = Callable[[Any], tuple[bytes, dict[str, str]]]


def runtime(request: Request) -> ServingRuntime:
    found: ServingRuntime = request.app.state.runtime
    return found


def request_id(request: Request | Call, supplied: Any = None) -> tuple[str, bool]:
    """The request id, and whether the client chose it (body field, else header).

    Raises:
        UsageError: the client's id is not usable.
    """
    if supplied is not None:
        return check_request_id(supplied), True
    bad = request.scope.get("stead.bad_request_id")
    if bad is not None:
        check_request_id(bad)
    return request.scope[REQUEST_ID], bool(request.scope.get(CLIENT_SUPPLIED))


async def answer(
    call: Call,
    prediction: PredictRequest,
    *,
    client_id: bool,
    render: Callable[[Answer], Any],
    headers: Callable[[Answer], dict[str, str]] | None = None,
    encode: Encode | None = None,
) -> Result:
    """Predict ``prediction`` and answer with ``render(answer)`` as JSON, or as
    ``encode(render(answer))`` gives it (bytes and headers).

    A repeated ``Idempotency-Key`` header (or client-chosen request id) returns the
    response stored the first time, byte for byte, with ``Idempotent-Replayed: true``
    (the stored form is the JSON, and ``encode`` applies to it again).
    """
    rt: ServingRuntime = call.runtime
    key = call.headers.get(IDEMPOTENCY_HEADER) or (prediction.request_id if client_id else None)
    digest = request_hash(call.path.encode(), call.body) if key else ""
    store = rt.responses if key else None
    if store is not None and key:
        stored = await asyncio.to_thread(store.get, prediction.endpoint, key, digest)
        if stored is not None:
            return _replay(stored, encode)
    try:
        result = await rt.engine.predict(prediction)
    except ContractViolation as refused:
        await rt.engine.log_rejected(prediction, refused)
        raise
    body = render(result)
    content = dump(body) if encode is None or store is not None else b""
    if store is not None and key:
        mine = StoredResponse(status=200, body=content.decode(), request_id=prediction.request_id)
        kept, ours = await asyncio.to_thread(store.put, prediction.endpoint, key, digest, mine)
        if not ours:
            return _replay(kept, encode)
    await rt.engine.finish(result)
    extra = {"x-request-id": prediction.request_id}
    if headers is not None:
        extra.update(headers(result))
    if encode is not None:
        content, encoded = encode(body)
        extra.update(encoded)
    return 200, content, extra


def _replay(stored: StoredResponse, encode: Encode | None) -> Result:
    extra = {REPLAYED_HEADER: "true", "x-request-id": stored.request_id}
    if encode is None:
        return stored.status, stored.body.encode(), extra
    content, encoded = encode(json.loads(stored.body))
    return stored.status, content, {**extra, **encoded}
