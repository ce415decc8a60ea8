"""The ASGI app: routes, middleware (request ids, body limits, auth) and error handling.

:func:`create_app` builds it around a way to open the workspace; the composition root
(:mod:`stead.server`) passes ``Workspace.open`` and runs it on uvicorn.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stead.core.errors import NotFound, SteadError, UsageError
from stead.serving.errors import MethodNotAllowed
from stead.serving.http.api import OPERATIONS
from stead.serving.http.auth import AuthMiddleware
from stead.serving.http.body_limit import BodyLimitMiddleware
from stead.serving.http.request_ids import RequestIdMiddleware
from stead.serving.http.responses import error_response
from stead.serving.http.unexpected import UnexpectedErrorMiddleware
from stead.serving.http.worker_state import OpenWorkspace, ServingRuntime

ROUTES = [Route(op.path, op.handler, methods=[op.method]) for op in OPERATIONS]


def create_app(
    workspace: str | os.PathLike[str],
    *,
    open_workspace: OpenWorkspace,
    host: str = "127.0.0.1",
    auth: bool | None = None,
) -> Starlette:
    """The serving app for the workspace at (or above) ``workspace``.

    Args:
        workspace: the workspace directory.
        open_workspace: opens it, in the worker process, with every service built once.
        host: the address the server listens on; with ``[auth] enabled = "auto"`` token
            checks are on unless it is loopback.
        auth: force token checks on or off.

    Raises:
        SettingsError: ``stead.toml`` is missing or a setting is wrong.
    """
    runtime = ServingRuntime(workspace, open_workspace=open_workspace, host=host, auth=auth)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(UnexpectedErrorMiddleware, count=lambda name: _failed(runtime, name)),
            Middleware(BodyLimitMiddleware, limit=lambda: runtime.settings.max_body_bytes),
            Middleware(
                AuthMiddleware, enabled=lambda: runtime.auth_required, check=lambda: runtime.tokens
            ),
        ],
        exception_handlers={
            SteadError: _stead_error,
            HTTPException: _http_error,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


async def _stead_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SteadError)
    _count(request, exc.code)
    return error_response(exc, path=request.url.path)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: SteadError
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        error = NotFound(f"no such path: {request.method} {request.url.path} (see /openapi.json)")
    elif exc.status_code == 405:
        allowed = ", ".join(sorted(m.strip() for m in headers.get("Allow", "").split(",")))
        headers["Allow"] = allowed
        error = MethodNotAllowed(
            f"{request.method} is not allowed on {request.url.path}; it takes {allowed}",
            details={"allowed": [m.strip() for m in allowed.split(",") if m.strip()]},
        )
    else:
        error = UsageError(str(exc.detail))
        error.http_status = exc.status_code  # type: ignore[misc]
    response = error_response(error, path=request.url.path)
    response.headers.update(headers)
    return response


def _count(request: Request, code: str) -> None:
    runtime: Any = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.metrics.failed(request.path_params.get("name", "-"), code)


def _failed(runtime: ServingRuntime, name: str) -> None:
    runtime.metrics.failed(name, "internal_error")
