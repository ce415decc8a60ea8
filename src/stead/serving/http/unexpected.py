"""The last safety net: an exception no route expected still gets a JSON 500, and the
client's keep-alive connection stays open.

Starlette's own error middleware answers 500 and then re-raises, and the ASGI server
closes the connection of any request whose app raised; every client of a pooled
connection would pay for one bad request. This middleware sits inside it, logs the
exception once, answers ``{"error": {"code": "internal_error", ...}}`` (when nothing was
sent yet) and returns normally. A stead error raised by a middleware (the token check
while the server starts) gets its own status, as it would from a route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stead.core.errors import SteadError
from stead.serving.errors import InternalError
from stead.serving.http.responses import send_error

log = logging.getLogger("stead.serving")


def internal_error(exc: BaseException) -> InternalError:
    return InternalError(f"internal error ({type(exc).__name__}); the server log has the details")


class UnexpectedErrorMiddleware:
    """Turns an unexpected exception into a JSON 500 without closing the connection.

    Args:
        app: the app inside.
        count: called with the endpoint name (``"-"`` for none) of each such failure.
    """

    def __init__(self, app: ASGIApp, *, count: Callable[[str], None]) -> None:
        self.app = app
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except SteadError as error:  # from a middleware, outside the routes' handlers
            if started:
                raise
            await send_error(send, error, path=scope["path"])
        except Exception as exc:
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            self.count(scope.get("path_params", {}).get("name", "-"))
            if started:
                raise  # half an answer is out: only closing the connection can end it
            await send_error(send, internal_error(exc), path=scope["path"])
