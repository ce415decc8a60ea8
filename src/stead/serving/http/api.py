"""Every HTTP operation, declared once: its route, handler, role, body and answers.

The app's routes (:mod:`stead.serving.http.app`) and the OpenAPI 3.1 document
(``GET /openapi.json``) are both built from :data:`OPERATIONS`, and the request bodies
are the pydantic models the handlers validate with (:mod:`.schemas`), so the server
and its document cannot disagree.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from stead.serving.http import manage, mlflow, native, oip, ops
from stead.serving.http.answering import runtime
from stead.serving.http.fast_path import lean_route
from stead.serving.http.responses import json_response
from stead.serving.http.schemas import (
    NAME_PATTERN,
    REQUEST_ID_PATTERN,
    DeploymentBody,
    FeedbackBody,
    InferBody,
    InvocationsBody,
    PredictBody,
    RollbackBody,
)

ENTITY_KEY_MAX = 256
IDEMPOTENCY_KEY_MAX = 256
REQUEST_ID_MAX = 128


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Answer):
    code: str
    message: str
    details: dict[str, Any] | None = None


class Error(_Answer):
    """Every error of the native API and MLflow's format."""

    error: ErrorDetail


class InferenceError(_Answer):
    """Every error under ``/v2``: the Open Inference Protocol's ``{"error": message}``."""

    error: str
    code: str
    details: dict[str, Any] | None = None


class RecordErrorAnswer(_Answer):
    """One record refused by the contract while the others were answered."""

    record: int
    request_id: str
    code: str
    message: str
    violations: list[dict[str, Any]]


class PredictAnswer(_Answer):
    request_id: str
    endpoint: str
    revision: int
    model_version: str
    fallback: bool
    # ``null`` at the records refused on their own (``record_errors``).
    predictions: list[dict[str, Any] | None]
    warnings: list[dict[str, Any]] | None = None
    errors: list[RecordErrorAnswer] | None = None


class Readiness(_Answer):
    ready: bool
    reason: str | None = None
    endpoints: dict[str, int] | None = None
    problems: dict[str, str] | None = None


class InferTensor(_Answer):
    name: str
    datatype: str
    shape: list[int]
    data: list[Any]


class InferAnswer(_Answer):
    model_name: str
    model_version: str
    id: str
    parameters: dict[str, Any]
    outputs: list[InferTensor]


class Invocations(_Answer):
    predictions: list[Any]


class Anything(_Answer):
    """An object; its fields are described with the operation."""


ERRORS = {
    400: "a bad request: not JSON, or not of this operation's schema (usage_error)",
    401: "no or bad API token (unauthenticated)",
    403: "the token lacks the role or does not own the model (permission_denied)",
    404: "no such endpoint, revision or request (not_found)",
    405: "the path does not take this method; the Allow header lists those it takes",
    409: "a concurrent change, a state that forbids it, or an idempotency key reused",
    412: "the readiness checklist refused the version (gate_failed)",
    413: "too many records or too large a body (payload_too_large)",
    422: "of the schema but not servable: records that break the input contract, text "
    "no store can keep, tensor shapes or column lengths that disagree",
    503: "still loading, not loaded, or the model and its fallback failed",
}


@dataclass(frozen=True)
class Operation:
    """One method on one path."""

    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    role: str | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    ok: int = 200
    answer: type[BaseModel] | str | None = Anything
    errors: tuple[int, ...] = ()
    parameters: tuple[dict[str, Any], ...] = ()
    media_type: str = "application/json"
    # Statuses answered with ``answer``'s shape rather than an error (a not-ready probe).
    also: tuple[int, ...] = ()
    tags: tuple[str, ...] = field(default=("native",))

    @property
    def name_in_path(self) -> bool:
        return "{name}" in self.path


NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": NAME_PATTERN},
}
HEADERS = (
    {
        "name": "X-Request-Id",
        "in": "header",
        "description": "the client's request id; refused (400) when longer than "
        f"{REQUEST_ID_MAX} characters",
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
    },
    {
        "name": "X-Entity-Key",
        "in": "header",
        "description": "the entity a canary is sticky by",
        "schema": {"type": "string", "minLength": 1, "maxLength": ENTITY_KEY_MAX},
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "description": "repeat a request safely: the first answer is replayed",
        "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
    },
)
PREDICTION_ERRORS = (400, 401, 403, 404, 409, 413, 422, 503)
READ = (401, 403)
CHANGE = (400, 401, 403, 404, 409, 412)


async def openapi(request: Request) -> Response:
    """``GET /openapi.json``: this module's document, with the server's auth scheme."""
    return json_response(document(auth=runtime(request).auth_required))


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/v1/endpoints/{name}/predict",
        lean_route(native.predict),
        "Predict records with an endpoint",
        role="predictor",
        body=PredictBody,
        answer=PredictAnswer,
        errors=PREDICTION_ERRORS,
        parameters=(
            {"name": "explain", "in": "query", "schema": {"type": "boolean"}},
            {
                "name": "record_errors",
                "in": "query",
                "description": "answer the records that meet the input contract and give "
                "each other its own entry in 'errors' (null at its place in "
                "'predictions'); without it one bad record refuses the request (422)",
                "schema": {"type": "boolean"},
            },
            *HEADERS,
        ),
    ),
    Operation(
        "POST",
        "/v1/endpoints/{name}/feedback",
        native.feedback,
        "Record the label of a logged prediction (or, with correct, change it)",
        role="labeler",
        body=FeedbackBody,
        errors=(400, 401, 403, 404, 409, 422, 503),
    ),
    Operation(
        "GET",
        "/v1/endpoints",
        manage.list_endpoints,
        "Endpoints and their active revisions",
        role="viewer",
        answer="array",
        errors=(*READ, 503),
    ),
    Operation(
        "GET",
        "/v1/endpoints/{name}",
        manage.show_endpoint,
        "One endpoint, and what this server serves of it",
        role="viewer",
        errors=(400, *READ, 404, 503),
    ),
    Operation(
        "GET",
        "/v1/endpoints/{name}/history",
        manage.endpoint_history,
        "Every deployment revision, oldest first",
        role="viewer",
        answer="array",
        errors=(400, *READ, 404, 503),
    ),
    Operation(
        "POST",
        "/v1/endpoints/{name}/deployments",
        manage.change_endpoint,
        "Deploy, canary, shadow or promote (and the token's team must own the model)",
        role="deployer",
        body=DeploymentBody,
        ok=201,
        errors=(*CHANGE, 422, 503),
    ),
    Operation(
        "POST",
        "/v1/endpoints/{name}/rollback",
        manage.rollback_endpoint,
        "Activate the previous revision, or the one named by 'to'",
        role="deployer",
        body=RollbackBody,
        body_required=False,
        ok=201,
        errors=(*CHANGE, 422, 503),
    ),
    Operation(
        "GET",
        "/v2",
        oip.server_metadata,
        "Server metadata",
        role="viewer",
        errors=READ,
        tags=("oip",),
    ),
    Operation("GET", "/v2/health/live", oip.live, "Liveness", tags=("oip",)),
    Operation(
        "GET",
        "/v2/health/ready",
        oip.ready,
        "Readiness: every endpoint this server serves is loaded ([serving] ready_when)",
        answer=Readiness,
        also=(503,),
        tags=("oip",),
    ),
    Operation(
        "GET",
        "/v2/models/{name}",
        oip.model_metadata,
        "A model's inputs and outputs",
        role="viewer",
        errors=(*READ, 404, 503),
        tags=("oip",),
    ),
    Operation(
        "GET",
        "/v2/models/{name}/ready",
        oip.model_ready,
        "Whether an endpoint is loaded",
        role="viewer",
        errors=(*READ, 404, 503),
        tags=("oip",),
    ),
    Operation(
        "POST",
        "/v2/models/{name}/infer",
        lean_route(oip.infer),
        "Open Inference Protocol inference (one input per contract column, or one 2-D)",
        role="predictor",
        body=InferBody,
        answer=InferAnswer,
        errors=PREDICTION_ERRORS,
        parameters=HEADERS,
        tags=("oip",),
    ),
    Operation(
        "POST",
        "/invocations",
        lean_route(mlflow.invocations),
        "MLflow's scoring format, for [serving] default_endpoint",
        role="predictor",
        body=InvocationsBody,
        answer=Invocations,
        errors=PREDICTION_ERRORS,
        parameters=HEADERS,
        tags=("mlflow",),
    ),
    Operation("GET", "/ping", mlflow.ping, "MLflow's health check", answer=None, tags=("mlflow",)),
    Operation(
        "GET", "/health", mlflow.ping, "MLflow's health check", answer=None, tags=("mlflow",)
    ),
    Operation("GET", "/healthz", ops.healthz, "Liveness", tags=("ops",)),
    Operation(
        "GET",
        "/readyz",
        ops.readyz,
        "Readiness: every endpoint this server serves is loaded ([serving] ready_when); "
        "names, revisions and problems only for a viewer token (or with auth off)",
        answer=Readiness,
        also=(503,),
        tags=("ops",),
    ),
    Operation(
        "GET",
        "/metrics",
        ops.metrics,
        "Prometheus metrics",
        role="viewer",
        answer="text",
        media_type="text/plain",
        errors=READ,
        tags=("ops",),
    ),
    Operation("GET", "/openapi.json", openapi, "This document", tags=("ops",)),
)


def _schema_of(answer: type[BaseModel] | str, refs: dict[Any, Any]) -> dict[str, Any]:
    if answer == "array":
        return {"type": "array", "items": {"type": "object"}}
    if answer == "text":
        return {"type": "string"}
    assert not isinstance(answer, str)
    schema: dict[str, Any] = refs[(answer, "serialization")]
    return schema


def _operation_id(op: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", op.path) or ["root"]
    return "_".join([op.method.lower(), *words])


def _operation(op: Operation, refs: dict[Any, Any], *, auth: bool) -> dict[str, Any]:
    error_ref = refs[(InferenceError if op.path.startswith("/v2") else Error, "serialization")]
    responses: dict[str, Any] = {}
    if op.answer is None:
        responses[str(op.ok)] = {"description": "an empty line, as MLflow's"}
    else:
        responses[str(op.ok)] = {
            "description": "done",
            "content": {op.media_type: {"schema": _schema_of(op.answer, refs)}},
        }
    for code in op.also:
        responses[str(code)] = {**responses[str(op.ok)], "description": "not ready"}
    codes = set(op.errors) - ({401, 403} if not auth else set())
    if op.role is not None and auth:
        codes |= {401, 403}
    if op.body is not None:
        codes |= {400, 413, 422}
    if any(p.get("in") == "header" for p in op.parameters):
        codes.add(400)
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERRORS[code],
            "content": {"application/json": {"schema": error_ref}},
        }
    described: dict[str, Any] = {
        "summary": op.summary + (f" (role: {op.role})" if op.role else ""),
        "operationId": _operation_id(op),
        "tags": list(op.tags),
        "responses": responses,
    }
    parameters = [NAME] if op.name_in_path else []
    parameters.extend(op.parameters)
    if parameters:
        described["parameters"] = parameters
    if op.body is not None:
        described["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.role is None and auth:
        described["security"] = []
    return described


@cache
def document(*, auth: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation (``auth``: whether tokens are checked,
    so whether the document asks for them)."""
    bodies = {op.body for op in OPERATIONS if op.body is not None}
    answers: set[type[BaseModel]] = {Error, InferenceError}
    answers.update(op.answer for op in OPERATIONS if isinstance(op.answer, type))
    models: list[tuple[type[BaseModel], Any]] = [
        *((b, "validation") for b in sorted(bodies, key=lambda m: m.__name__)),
        *((a, "serialization") for a in sorted(answers, key=lambda m: m.__name__)),
    ]
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, auth=auth)
    described: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "stead serving API",
            "version": importlib.metadata.version("stead"),
            "description": "Predictions from deployed endpoints, feedback and deployments; "
            "the Open Inference Protocol V2 under /v2 and MLflow's /invocations. Every "
            "error is JSON: {'error': {'code', 'message', 'details'}} (under /v2: "
            "{'error': message, 'code', 'details'}).",
        },
        "components": {"schemas": definitions.get("$defs", {})},
        "paths": paths,
    }
    if auth:
        described["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"}
        }
        described["security"] = [{"bearer": []}]
    return described
