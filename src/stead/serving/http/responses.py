"""JSON in and out, and every error in one shape: ``{"error": {"code", "message",
"details"}}`` with the HTTP status of the error's class.

The Open Inference Protocol wants ``{"error": "<message>"}``: under ``/v2/`` errors
carry the message there, and the stable code and details beside it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import Response
from starlette.types import Send

from stead.core.errors import SteadError

JSON = "application/json"


def dump(body: Any) -> bytes:
    """Compact JSON; a non-finite float (never valid JSON) becomes null."""
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(body), separators=(",", ":")).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def load(body: bytes) -> Any:
    """The JSON of a request body (see :func:`stead.serving.http.schemas.read_json`).

    Raises:
        UsageError: it is not JSON (saying where it breaks), or nests too deeply.
        UnstorableText: a string holds a lone UTF-16 surrogate.
    """
    from stead.serving.http.schemas import read_json

    return read_json(body)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump(body), status_code=status, headers=headers, media_type=JSON)


def error_body(error: SteadError, *, path: str = "") -> dict[str, Any]:
    if path == "/v2" or path.startswith("/v2/"):
        body: dict[str, Any] = {"error": error.message, "code": error.code}
        if error.details:
            body["details"] = error.details
        return body
    return {"error": error.to_dict()}


def error_response(error: SteadError, *, path: str = "") -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    return json_response(error_body(error, path=path), error.http_status, headers)


async def send_error(send: Send, error: SteadError, *, path: str = "") -> None:
    """Answer with ``error`` from a raw ASGI middleware."""
    response = error_response(error, path=path)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
