"""The native API: ``POST /v1/endpoints/{name}/predict`` and ``/feedback``.

Predict takes ``{"records": [{field: value, ...}, ...]}`` or ``{"columns": {field:
[values ...]}}`` (and optionally ``"request_id"``), and answers::

    {"request_id": "rq...", "endpoint": "credit", "revision": 3,
     "model_version": "credit@3", "fallback": false,
     "predictions": [{"prediction": 1, "probabilities": {"0": 0.2, "1": 0.8}}]}

``?explain=true`` adds each record's per-feature contributions. A record served with a
field outside the training range says which (``"out_of_range": ["balance"]``), and
``"warnings"`` says on which side and what the range was.

``?record_errors=true`` answers the records that meet the contract when others do not:
``null`` in ``"predictions"`` at each refused record's place, and ``"errors": [{"record":
i, "request_id": ..., "code": ..., "message": ..., "violations": [...]}]``. Still 422 when
no record meets it. It is a parameter of the request, not a server setting, because it
changes the shape of the answer: only a client written to read ``null`` predictions may
receive them, and a server-wide switch would hand them to every client at once.
"""

from __future__ import annotations

import asyncio
import functools

from starlette.requests import Request
from starlette.responses import Response

from stead.serving.http.answering import answer, request_id, runtime
from stead.serving.http.auth import principal_of, require
from stead.serving.http.fast_path import Call, Result
from stead.serving.http.responses import json_response
from stead.serving.http.schemas import FeedbackBody, PredictBody, parse
from stead.serving.predict.request import PredictRequest

TRUE = ("1", "true", "yes")


async def predict(call: Call) -> Result:
    require(call, "predictor")
    name = call.path_params["name"]
    body = parse(PredictBody, call.body, operation="POST /v1/endpoints/{name}/predict")
    rid, client_id = request_id(call, body.request_id)
    prediction = PredictRequest(
        endpoint=name,
        request_id=rid,
        records=body.records,
        columns=body.columns,
        entity_key=call.headers.get("x-entity-key"),
        explain=(call.query("explain") or "").lower() in TRUE,
        record_errors=(call.query("record_errors") or "").lower() in TRUE,
    )
    return await answer(call, prediction, client_id=client_id, render=lambda a: a.body())


async def feedback(request: Request) -> Response:
    """``{"request_id": ..., "label": ..., "kpis": {...}}`` → ``ws.feedback.record``;
    with ``"correct": true`` and a ``"reason"`` → ``ws.feedback.correct``. Needs a
    ``labeler`` token of the endpoint's team (or ``admin``), audited as the token."""
    who = principal_of(require(request, "labeler"))
    name = request.path_params["name"]
    body = parse(FeedbackBody, await request.body(), operation="POST /v1/endpoints/{name}/feedback")
    service = runtime(request).ws.feedback
    call = (
        functools.partial(service.correct, reason=body.reason)
        if body.correct
        else functools.partial(service.record, kpis=body.kpis)
    )
    outcome = await asyncio.to_thread(call, name, body.request_id, label=body.label, principal=who)
    return json_response(outcome.to_dict())
