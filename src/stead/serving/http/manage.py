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
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stead.core.errors import UsageError
from stead.serving.http.answering import runtime
from stead.serving.http.auth import principal_of, require
from stead.serving.http.responses import json_response, load
from stead.serving.watcher import refs_of


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
    payload = load(await request.body())
    if not isinstance(payload, dict):
        raise UsageError('send {"action": "deploy", "model": "NAME@N", "reason": "..."}')
    action = payload.get("action", "deploy")
    model, reason = payload.get("model"), payload.get("reason")
    override = bool(payload.get("override", False))
    who = principal_of(token)
    endpoints = runtime(request).ws.endpoints
    calls: dict[str, Any] = {
        "deploy": lambda: endpoints.deploy(
            name,
            _model(model),
            fallback=payload.get("fallback"),
            reason=reason,
            override=override,
            principal=who,
        ),
        "canary": lambda: endpoints.canary(
            name,
            _model(model),
            share=float(payload.get("share", 10)),
            reason=reason,
            override=override,
            principal=who,
        ),
        "shadow": lambda: endpoints.shadow(
            name,
            _model(model),
            share=float(payload.get("share", 100)),
            reason=reason,
            override=override,
            principal=who,
        ),
        "promote_canary": lambda: endpoints.promote_canary(name, reason=reason, principal=who),
        "end_canary": lambda: endpoints.end_canary(name, reason=reason, principal=who),
        "remove_shadow": lambda: endpoints.remove_shadow(
            name, _model(model), reason=reason, principal=who
        ),
    }
    if action not in calls:
        raise UsageError(f"action {action!r} is not one of {', '.join(calls)}")
    outcome = await asyncio.to_thread(calls[action])
    return json_response(outcome.to_dict(), 201)


async def rollback_endpoint(request: Request) -> Response:
    token = require(request, "deployer")
    name = request.path_params["name"]
    raw = await request.body()
    payload = load(raw) if raw else {}
    if not isinstance(payload, dict):
        raise UsageError('send {"reason": "...", "to": REVISION} (both optional)')
    to = payload.get("to")
    if to is not None and not isinstance(to, int):
        raise UsageError('"to" must be a revision number')
    outcome = await asyncio.to_thread(
        runtime(request).ws.endpoints.rollback,
        name,
        to=to,
        reason=payload.get("reason"),
        principal=principal_of(token),
    )
    return json_response(outcome.to_dict(), 201)


def _model(model: Any) -> str:
    if not isinstance(model, str) or not model:
        raise UsageError('this action needs "model": "NAME@N"')
    return model
