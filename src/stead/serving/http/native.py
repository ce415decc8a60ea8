"""The native API: ``POST /v1/endpoints/{name}/predict`` and ``/feedback``.

Predict takes ``{"records": [{field: value, ...}, ...]}`` or ``{"columns": {field:
[values ...]}}`` (and optionally ``"request_id"``), and answers::

    {"request_id": "rq...", "endpoint": "credit", "revision": 3,
     "model_version": "credit@3", "fallback": false,
     "predictions": [{"prediction": 1, "probabilities": {"0": 0.2, "1": 0.8}}]}

``?explain=true`` adds each record's per-feature contributions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stead.core.errors import UsageError
from stead.serving.answer import PredictRequest
from stead.serving.errors import NotImplementedYet
from stead.serving.http.answering import answer, request_id, runtime
from stead.serving.http.auth import principal_of, require
from stead.serving.http.lean import Call, Result
from stead.serving.http.responses import json_response, load

TRUE = ("1", "true", "yes")


async def predict(call: Call) -> Result:
    require(call, "predictor")
    name = call.path_params["name"]
    payload = load(call.body)
    if not isinstance(payload, dict):
        raise UsageError('send {"records": [{...}, ...]} or {"columns": {field: [...]}}')
    records, columns = payload.get("records"), payload.get("columns")
    if (records is None) == (columns is None):
        raise UsageError(
            'send exactly one of "records" (a list of objects) or "columns" (an object of '
            "field → list of values)"
        )
    if records is not None and not isinstance(records, list):
        raise UsageError('"records" must be a list of objects, one per record')
    if columns is not None and not isinstance(columns, dict):
        raise UsageError('"columns" must be an object of field → list of values')
    rid, client_id = request_id(call, payload.get("request_id"))
    prediction = PredictRequest(
        endpoint=name,
        request_id=rid,
        records=records,
        columns=columns,
        entity_key=call.headers.get("x-entity-key"),
        explain=(call.query("explain") or "").lower() in TRUE,
    )
    return await answer(call, prediction, client_id=client_id, render=lambda a: a.body())


async def feedback(request: Request) -> Response:
    """``{"request_id": ..., "label": ..., "kpis": {...}}`` → ``ws.feedback.record``;
    with ``"correct": true`` and a ``"reason"`` → ``ws.feedback.correct``. Needs a
    ``labeler`` token of the endpoint's team (or ``admin``), audited as the token."""
    who = principal_of(require(request, "labeler"))
    name = request.path_params["name"]
    payload: Any = load(await request.body())
    if not isinstance(payload, dict) or "request_id" not in payload:
        raise UsageError('send {"request_id": "...", "label": ..., "kpis": {...}}')
    correct = payload.get("correct", False)
    if not isinstance(correct, bool):
        raise UsageError(f'"correct" must be true or false, got {correct!r}')
    ws = runtime(request).ws
    service = getattr(ws, "feedback", None)
    if service is None:
        raise NotImplementedYet("feedback is not available in this server")
    if correct:
        outcome = await asyncio.to_thread(
            service.correct,
            name,
            payload["request_id"],
            label=payload.get("label"),
            reason=payload.get("reason"),
            principal=who,
        )
    else:
        outcome = await asyncio.to_thread(
            service.record,
            name,
            payload["request_id"],
            label=payload.get("label"),
            kpis=payload.get("kpis"),
            principal=who,
        )
    return json_response(outcome.to_dict())
