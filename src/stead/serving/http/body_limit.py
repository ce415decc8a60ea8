"""Body limits: a request larger than ``[serving] max_body_bytes`` is refused with 413
before it is read (by its ``Content-Length``) or as soon as it passes the limit (a
chunked body), so a huge body never sits in memory."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stead.serving.errors import PayloadTooLarge
from stead.serving.http.responses import send_error


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than {limit} bytes ([serving] max_body_bytes); "
        "send fewer records per request",
        details={"max_body_bytes": limit},
    )


class BodyLimitMiddleware:
    """Refuses bodies over ``limit()`` bytes with 413 ``payload_too_large``."""

    def __init__(self, app: ASGIApp, *, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await send_error(send, _too_large(limit), path=scope["path"])
                    return
                break
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, limited, send)
