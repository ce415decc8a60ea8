"""Access control over HTTP: API tokens and roles.

When ``[auth] enabled`` (``"auto"``: whenever the server listens beyond loopback) every
request but the health checks and the OpenAPI document needs ``Authorization: Bearer
<token>``; a missing, unknown or revoked token gets 401. Each route then asks for a role
(:func:`require`, roles as in :data:`stead.security.tokens.GRANTS`): reads need
``viewer``, predictions ``predictor``, feedback ``labeler`` and deployment changes
``deployer``; for feedback and deployments the token's team must own the endpoint (checked
by ``ws.feedback`` and ``ws.endpoints``, which act as :func:`principal_of` the token). A
token without the role gets 403, saying which role is needed.

Tokens are checked against the metadata store and the answer is remembered for
``CACHE_SECONDS``, so a revoked token stops working within that time.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from stead.core.errors import PermissionDenied, Unauthenticated
from stead.security.access import Principal
from stead.security.tokens import ApiToken, Role, role_allows, roles_allowing
from stead.serving.http.fast_path import Call
from stead.serving.http.responses import send_error

if TYPE_CHECKING:
    from stead.security.tokens import TokenService

TOKEN = "stead.token"
AUTH_ON = "stead.auth"
CACHE_SECONDS = 5.0
PUBLIC = frozenset(
    {
        "/healthz",
        "/readyz",
        "/v2/health/live",
        "/v2/health/ready",
        "/openapi.json",
        "/ping",
        "/health",
    }
)


class TokenCheck:
    """Authenticates bearer tokens, remembering each answer for a few seconds."""

    def __init__(self, tokens: TokenService, *, ttl: float = CACHE_SECONDS) -> None:
        self._tokens = tokens
        self._ttl = ttl
        self._known: dict[str, tuple[float, ApiToken | None]] = {}

    async def authenticate(self, header: str | None) -> ApiToken:
        """The token an ``Authorization`` header carries.

        Raises:
            Unauthenticated: no bearer token, or an invalid or revoked one.
        """
        if not header:
            raise Unauthenticated(
                "this server requires an API token: send 'Authorization: Bearer <token>' "
                "(create one with `stead tokens create --role ...`)"
            )
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        key = hashlib.sha256(secret.strip().encode()).hexdigest()
        now = time.monotonic()
        cached = self._known.get(key)
        if cached is None or cached[0] < now:
            try:
                token: ApiToken | None = await asyncio.to_thread(
                    self._tokens.authenticate, secret.strip()
                )
            except Unauthenticated:
                token = None
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = (now + self._ttl, token)
            cached = self._known[key]
        if cached[1] is None:
            raise Unauthenticated(
                "invalid or revoked API token; create one with `stead tokens create`"
            )
        return cached[1]


class AuthMiddleware:
    """Authenticates every non-public request when ``enabled()``; routes check roles."""

    def __init__(
        self, app: ASGIApp, *, enabled: Callable[[], bool], check: Callable[[], TokenCheck]
    ) -> None:
        self.app = app
        self.enabled = enabled
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        on = self.enabled()
        scope[AUTH_ON] = on
        if on and scope["path"] not in PUBLIC:
            header = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            try:
                scope[TOKEN] = await self.check().authenticate(header)
            except Unauthenticated as refused:
                await send_error(send, refused, path=scope["path"])
                return
        await self.app(scope, receive, send)


def require(request: Request | Call, role: Role) -> ApiToken | None:
    """The caller's token when it has ``role`` (``None`` when auth is off).

    Raises:
        Unauthenticated: auth is on and there is no token.
        PermissionDenied: the token's role does not include ``role``.
    """
    if not request.scope.get(AUTH_ON):
        return None
    token: ApiToken | None = request.scope.get(TOKEN)
    if token is None:
        raise Unauthenticated("this request needs an API token: 'Authorization: Bearer <token>'")
    if not role_allows(token.role, role):
        allowed = roles_allowing(role)
        raise PermissionDenied(
            f"token {token.name!r} has role {token.role}; this needs role {role} (a token of "
            f"role {', '.join(allowed[:-1])} or {allowed[-1]})",
            details={"token": token.name, "role": token.role, "needed": role},
        )
    return token


def principal_of(token: ApiToken | None) -> Principal | None:
    """Who a token acts as: its identity, its team, admin for an ``admin`` token.

    ``None`` when auth is off: the server's own identity (the workspace actor) acts.
    """
    if token is None:
        return None
    return Principal(
        identity=token.identity,
        teams=(token.team,) if token.team else (),
        admin=token.role == "admin",
    )
