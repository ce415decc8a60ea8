"""MLflow's scoring format, for teams moving from ``mlflow models serve``.

``POST /invocations`` with ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``,
``{"dataframe_records": [{...}]}`` or ``{"inputs": ...}`` / ``{"instances": ...}`` (a list
of objects, or an object of columns) is answered like MLflow's scikit-learn flavor:
``{"predictions": [...]}`` with the predicted class (or value) per record. It serves
``[serving] default_endpoint`` (or the only endpoint, when there is one). stead's facts
travel in headers: ``X-Request-Id``, ``X-Stead-Model-Version``, ``X-Stead-Revision``,
``X-Stead-Fallback``. ``GET /ping`` and ``GET /health`` answer 200 as MLflow's do.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stead.core.errors import UsageError
from stead.serving.errors import Unprocessable
from stead.serving.http.answering import answer, request_id
from stead.serving.http.auth import require
from stead.serving.http.fast_path import Call, Result
from stead.serving.http.schemas import InvocationsBody, parse
from stead.serving.predict.request import Answer, PredictRequest

FORMATS = "dataframe_split, dataframe_records, inputs or instances"


async def ping(request: Request) -> Response:
    return Response(b"\n", 200, media_type="application/json")


async def invocations(call: Call) -> Result:
    require(call, "predictor")
    content_type = call.headers.get("content-type", "application/json").split(";")[0]
    if content_type.strip() != "application/json":
        raise UsageError(
            f"content type {content_type!r} is not served; send application/json with "
            f"one of {FORMATS}"
        )
    rt = call.runtime
    endpoint = rt.settings.default_endpoint
    if endpoint is None:
        names = sorted(rt.watcher.table) if rt.watcher else []
        if len(names) != 1:
            raise UsageError(
                "POST /invocations serves [serving] default_endpoint; set it in stead.toml "
                f"(this server serves {len(names)} endpoints)"
            )
        endpoint = names[0]
    records, columns = _parse(parse(InvocationsBody, call.body, operation="POST /invocations"))
    rid, client_id = request_id(call)
    prediction = PredictRequest(
        endpoint=endpoint,
        request_id=rid,
        records=records,
        columns=columns,
        entity_key=call.headers.get("x-entity-key"),
    )
    return await answer(
        call,
        prediction,
        client_id=client_id,
        render=_predictions,
        headers=lambda a: {
            "X-Stead-Model-Version": a.model_version,
            "X-Stead-Revision": str(a.revision),
            "X-Stead-Fallback": "true" if a.any_fallback else "false",
        },
    )


def _parse(body: InvocationsBody) -> tuple[list[Any] | None, dict[str, Any] | None]:
    split = body.dataframe_split
    if split is not None:
        width = len(split.columns)
        for i, row in enumerate(split.data):
            if len(row) != width:
                raise Unprocessable(
                    f"dataframe_split.data[{i}] has {len(row)} values; each row needs "
                    f"{width}, one per column ({', '.join(split.columns)})"
                )
        return [dict(zip(split.columns, row, strict=True)) for row in split.data], None
    given = body.dataframe_records or body.inputs or body.instances
    if isinstance(given, dict):
        return None, given
    return given, None


def _predictions(result: Answer) -> dict[str, Any]:
    return {
        "predictions": [o["value"] if "value" in o else o.get("prediction") for o in result.outputs]
    }
