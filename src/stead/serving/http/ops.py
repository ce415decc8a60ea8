"""Operating the server: ``/healthz`` (the process answers), ``/readyz`` (it has loaded
what is deployed and can log), ``/metrics`` (Prometheus) and ``/openapi.json``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from stead.serving.http.answering import runtime
from stead.serving.http.auth import require
from stead.serving.http.responses import json_response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    rt = runtime(request)
    if not rt.ready or rt.watcher is None:
        return json_response({"ready": False, "reason": "loading deployments"}, 503)
    body = {
        "ready": True,
        "endpoints": {name: live.revision for name, live in sorted(rt.watcher.table.items())},
    }
    if rt.watcher.problems:
        body["problems"] = rt.watcher.problems
    return json_response(body)


async def metrics(request: Request) -> Response:
    require(request, "viewer")
    rt = runtime(request)
    rt.revision_changed()
    content, media_type = rt.metrics.render()
    return Response(content, 200, media_type=media_type)


async def openapi(request: Request) -> Response:
    from stead.serving.http.api import document  # the document names this module's routes

    return json_response(document())
