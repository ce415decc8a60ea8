"""Request ids: the client's ``X-Request-Id`` when it sends a usable one, else a new one;
every response carries it back in ``X-Request-Id``.

The headers that travel with every record into the prediction log (the request id, the
entity key, the idempotency key) are bounded here, before anything reads them: a longer
one is refused with 400 naming the header and its limit, and is never echoed whole.
"""

from __future__ import annotations

import os
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stead.core.errors import UsageError
from stead.serving.http.responses import send_error

HEADER = b"x-request-id"
# The most characters each identifying header may have.
LIMITS = {b"x-request-id": 128, b"x-entity-key": 256, b"idempotency-key": 256}
_NAMES = {
    b"x-request-id": "X-Request-Id",
    b"x-entity-key": "X-Entity-Key",
    b"idempotency-key": "Idempotency-Key",
}
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
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "..."
        raise UsageError(
            f"request id {shown} is not allowed: use 1-128 letters, digits, '.', '_', ':' "
            "or '-', starting with a letter or digit"
        )
    return value


def _too_long(name: bytes, length: int, limit: int) -> UsageError:
    header = _NAMES[name]
    return UsageError(
        f"header {header} is {length} characters long; at most {limit} are allowed",
        details={"header": header, "length": length, "max_length": limit},
    )


class RequestIdMiddleware:
    """Puts the request id in ``scope["stead.request_id"]`` and on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied, too_long = None, None
        for name, value in scope["headers"]:
            limit = LIMITS.get(name)
            if limit is None:
                continue
            if len(value) > limit:
                too_long = _too_long(name, len(value), limit)
            elif name == HEADER:
                supplied = value.decode("latin-1")
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

        if too_long is not None:
            await send_error(send_with_id, too_long, path=scope["path"])
            return
        await self.app(scope, receive, send_with_id)
