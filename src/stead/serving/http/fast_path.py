"""A lean request path for the prediction routes.

Starlette's ``Request``/``Response`` and its per-route exception wrapping cost more per
request (about 0.1 ms, measured) than validating and predicting one record. The three
prediction routes (native, OIP infer, MLflow invocations) are therefore plain ASGI apps:
:class:`Call` reads the body and headers straight from the ASGI messages and the answer
goes out as two ASGI messages. Errors get the same JSON shape and metrics as everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from stead.core.errors import SteadError
from stead.serving.http.responses import JSON, dump, error_body
from stead.serving.http.unexpected import internal_error

log = logging.getLogger("stead.serving")

Headers = list[tuple[bytes, bytes]]
_JSON_TYPE = (b"content-type", JSON.encode())


class Call:
    """One request: its scope, lower-cased headers and body."""

    __slots__ = ("_query", "body", "headers", "path", "path_params", "scope")

    def __init__(self, scope: Scope, body: bytes) -> None:
        self.scope = scope
        self.path: str = scope["path"]
        self.path_params: dict[str, Any] = scope.get("path_params", {})
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.body = body
        self._query: dict[str, str] | None = None

    @classmethod
    async def read(cls, scope: Scope, receive: Receive) -> Call:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return cls(scope, chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def query(self, name: str) -> str | None:
        if self._query is None:
            self._query = dict(parse_qsl(self.scope.get("query_string", b"").decode("latin-1")))
        return self._query.get(name)

    @property
    def runtime(self) -> Any:
        return self.scope["app"].state.runtime


Result = tuple[int, bytes, dict[str, str]]
Handler = Callable[[Call], Awaitable[Result]]


class LeanRoute:
    """An ASGI app running ``handler(call) -> (status, JSON bytes, headers)`` (a
    ``content-type`` header says the bytes are something else).

    A class, not a function: Starlette wraps plain functions as request/response
    endpoints, which is the cost this avoids.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            call = await Call.read(scope, receive)
            status, content, headers = await self.handler(call)
        except SteadError as error:
            runtime = scope["app"].state.runtime
            runtime.metrics.failed(scope.get("path_params", {}).get("name", "-"), error.code)
            status = error.http_status
            content = dump(error_body(error, path=scope["path"]))
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        except Exception as exc:  # a bug: a JSON 500, and the connection stays open
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            runtime = scope["app"].state.runtime
            runtime.metrics.failed(scope.get("path_params", {}).get("name", "-"), "internal_error")
            status, headers = 500, {}
            content = dump(error_body(internal_error(exc), path=scope["path"]))
        raw: Headers = [(b"content-length", str(len(content)).encode())]
        if "content-type" not in headers:
            raw.append(_JSON_TYPE)
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})


def lean_route(handler: Handler) -> ASGIApp:
    """``handler`` as a lean ASGI app (see :class:`LeanRoute`)."""
    return LeanRoute(handler)
