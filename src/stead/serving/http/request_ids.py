"""Request ids: the client's ``X-Request-Id`` when it sends a usable one, else a new one;
every response carries it back in ``X-Request-Id``."""

from __future__ import annotations

import os
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stead.core.errors import UsageError

HEADER = b"x-request-id"
REQUEST_ID = "stead.request_id"
CLIENT_SUPPLIED = "stead.client_request_id"
_USABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


class _Ids:
    """Ids shaped like :func:`stead.core.ids.new_id` (milliseconds, then 56 random bits),
    from a generator seeded once per process from the OS: the OS call per id cost more
    than the rest of the id (measured 7 µs of a request's few hundred)."""

    def __init__(self) -> None:
        self._pid = -1
        self._random = random.Random()

    def __call__(self, prefix: str) -> str:
        if self._pid != os.getpid():  # a forked worker must not repeat its parent's ids
            self._random = random.Random(os.urandom(32))
            self._pid = os.getpid()
        millis = time.time_ns() // 1_000_000
        return f"{prefix}{millis:012x}{self._random.getrandbits(56):014x}"


new_request_id = _Ids()


def check_request_id(value: str) -> str:
    """Return a client-supplied request id if it is usable in logs and URLs.

    Raises:
        UsageError: it is not 1-128 letters, digits, ``.``, ``_``, ``:`` or ``-``.
    """
    if not isinstance(value, str) or _USABLE.fullmatch(value) is None:
        raise UsageError(
            f"request id {value!r} is not allowed: use 1-128 letters, digits, '.', '_', ':' "
            "or '-', starting with a letter or digit"
        )
    return value


class RequestIdMiddleware:
    """Puts the request id in ``scope["stead.request_id"]`` and on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = None
        for name, value in scope["headers"]:
            if name == HEADER:
                supplied = value.decode("latin-1")
                break
        usable = supplied is not None and _USABLE.fullmatch(supplied) is not None
        request_id = supplied if usable and supplied else new_request_id("rq")
        scope[REQUEST_ID] = request_id
        scope[CLIENT_SUPPLIED] = usable
        if supplied is not None and not usable:
            scope["stead.bad_request_id"] = supplied
        header = (HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name == HEADER for name, _ in headers):
                    headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
