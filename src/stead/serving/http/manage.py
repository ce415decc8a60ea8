"""Endpoints over HTTP: read them (``viewer``), change them (``deployer``, and the token's
team must own the models; an override needs an ``admin`` token).

- ``GET /v1/endpoints``, ``GET /v1/endpoints/{name}``, ``GET /v1/endpoints/{name}/history``
- ``POST /v1/endpoints/{name}/deployments`` with ``{"action": "deploy" | "canary" |
  "shadow" | "promote_canary" | "end_canary" | "remove_shadow", "model": "credit@4",
  "share": 10, "fallback": "credit@3:baseline", "reason": "...", "override": false}``
- ``POST /v1/endpoints/{name}/rollback`` with ``{"reason": "...", "to": 3}``
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stead.core.errors import UsageError
from stead.serving.deploy.watcher import refs_of
from stead.serving.errors import Unprocessable
from stead.serving.http.answering import runtime
from stead.serving.http.auth import principal_of, require
from stead.serving.http.responses import json_response
from stead.serving.http.schemas import DeploymentBody, RollbackBody, parse


def _served(request: Request, name: str) -> dict[str, Any]:
    rt = runtime(request)
    watcher, pool = rt.watcher, rt.pool
    if watcher is None or pool is None:
        return {"revision": None}
    live = watcher.table.get(name)
    body: dict[str, Any] = {"revision": live.revision if live else None}
    if live is not None:
        body["fallback"] = live.fallback
        body["models"] = [
            pool.get(ref).describe() for ref in pool.refs if ref in set(refs_of(live.deployment))
        ]
    if name in watcher.problems:
        body["problem"] = watcher.problems[name]
    return body


async def list_endpoints(request: Request) -> Response:
    require(request, "viewer")
    ws = runtime(request).ws
    endpoints = await asyncio.to_thread(ws.endpoints.list)
    return json_response([{**e.to_dict(), "served": _served(request, e.name)} for e in endpoints])


async def show_endpoint(request: Request) -> Response:
    require(request, "viewer")
    name = request.path_params["name"]
    endpoint = await asyncio.to_thread(runtime(request).ws.endpoints.get, name)
    return json_response({**endpoint.to_dict(), "served": _served(request, name)})


async def endpoint_history(request: Request) -> Response:
    require(request, "viewer")
    name = request.path_params["name"]
    history = await asyncio.to_thread(runtime(request).ws.endpoints.history, name)
    return json_response([d.to_dict() for d in history])


async def change_endpoint(request: Request) -> Response:
    token = require(request, "deployer")
    name = request.path_params["name"]
    body = parse(
        DeploymentBody, await request.body(), operation="POST /v1/endpoints/{name}/deployments"
    )
    who = principal_of(token)
    endpoints = runtime(request).ws.endpoints
    reason, override, model = body.reason, body.override, body.model or ""
    calls: dict[str, Callable[[], Any]] = {
        "deploy": lambda: endpoints.deploy(
            name, model, fallback=body.fallback, reason=reason, override=override, principal=who
        ),
        "canary": lambda: endpoints.canary(
            name,
            model,
            share=10.0 if body.share is None else body.share,
            reason=reason,
            override=override,
            principal=who,
        ),
        "shadow": lambda: endpoints.shadow(
            name,
            model,
            share=100.0 if body.share is None else body.share,
            reason=reason,
            override=override,
            principal=who,
        ),
        "promote_canary": lambda: endpoints.promote_canary(name, reason=reason, principal=who),
        "end_canary": lambda: endpoints.end_canary(name, reason=reason, principal=who),
        "remove_shadow": lambda: endpoints.remove_shadow(name, model, reason=reason, principal=who),
    }
    outcome = await _change(calls[body.action])
    return json_response(outcome.to_dict(), 201)


async def rollback_endpoint(request: Request) -> Response:
    token = require(request, "deployer")
    name = request.path_params["name"]
    raw = await request.body()
    operation = "POST /v1/endpoints/{name}/rollback"
    body = parse(RollbackBody, raw, operation=operation) if raw.strip() else RollbackBody()
    endpoints = runtime(request).ws.endpoints
    outcome = await _change(
        lambda: endpoints.rollback(
            name, to=body.to, reason=body.reason, principal=principal_of(token)
        )
    )
    return json_response(outcome.to_dict(), 201)


async def _change(call: Callable[[], Any]) -> Any:
    """Run a change; the body matched its schema, so what the service still refuses as
    usage (a revision after the active one, a share outside its range) is 422."""
    try:
        return await asyncio.to_thread(call)
    except UsageError as refused:
        if type(refused) is not UsageError:
            raise
        raise Unprocessable(refused.message, details=refused.details) from None
