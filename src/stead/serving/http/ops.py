"""Operating the server: ``/healthz`` (the process answers), ``/readyz`` (it has loaded
what is deployed and can log: see :mod:`.readiness`) and ``/metrics`` (Prometheus).
``/openapi.json`` is served by :mod:`.api`, which builds the document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from stead.serving.http.answering import runtime
from stead.serving.http.auth import require
from stead.serving.http.readiness import may_see_details, readiness
from stead.serving.http.responses import json_response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    rt = runtime(request)
    state = readiness(rt)
    detailed = await may_see_details(rt, request.headers.get("authorization"))
    return json_response(state.body(detailed=detailed), 200 if state.ready else 503)


async def metrics(request: Request) -> Response:
    require(request, "viewer")
    rt = runtime(request)
    rt.revision_changed()
    content, media_type = rt.metrics.render()
    return Response(content, 200, media_type=media_type)
