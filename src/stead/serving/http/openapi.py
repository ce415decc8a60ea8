"""The OpenAPI 3.1 document of the native API (``GET /openapi.json``).

Written out rather than generated: the request and response shapes are the API's
promise, and a reviewer should see a change to them in a diff of this file.
"""

from __future__ import annotations

import importlib.metadata
from functools import cache
from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


def _errors(*codes: int) -> dict[str, Any]:
    descriptions = {
        400: "a bad request (usage_error)",
        401: "no or bad API token (unauthenticated)",
        403: "the token lacks the role or does not own the model (permission_denied)",
        404: "no such endpoint (not_found)",
        409: "a concurrent change, or an idempotency key reused (conflict)",
        412: "the readiness checklist refused the version (gate_failed)",
        413: "too many records or too large a body (payload_too_large)",
        422: "records break the input contract (contract_violation)",
        501: "not available in this server (not_implemented)",
        503: "still loading, or the model and its fallback failed",
    }
    return {
        str(code): {
            "description": descriptions[code],
            "content": {"application/json": {"schema": ERROR}},
        }
        for code in codes
    }


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@cache
def document() -> dict[str, Any]:
    predict_request = {
        "type": "object",
        "description": "exactly one of records or columns",
        "properties": {
            "records": {"type": "array", "items": {"type": "object"}, "maxItems": 1000},
            "columns": {"type": "object", "additionalProperties": {"type": "array"}},
            "request_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"},
        },
    }
    prediction = {
        "type": "object",
        "properties": {
            "prediction": {"description": "the predicted class (classifiers)"},
            "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
            "value": {"type": "number", "description": "the prediction (regressors)"},
            "request_id": {"type": "string", "description": "per record, when several"},
            "model_version": {"type": "string", "description": "per record, when mixed"},
            "explanation": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    }
    predict_response = {
        "type": "object",
        "required": ["request_id", "endpoint", "revision", "model_version", "fallback"],
        "properties": {
            "request_id": {"type": "string"},
            "endpoint": {"type": "string"},
            "revision": {"type": "integer"},
            "model_version": {"type": "string", "description": "NAME@N, or 'mixed'"},
            "fallback": {"type": "boolean"},
            "predictions": {"type": "array", "items": prediction},
            "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Violation"}},
        },
    }
    headers = [
        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
        {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}},
        {"name": "X-Entity-Key", "in": "header", "schema": {"type": "string"}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stead serving API",
            "version": importlib.metadata.version("stead"),
            "description": "Predictions from deployed endpoints, feedback, and deployments. "
            "Also served: the Open Inference Protocol V2 under /v2 and MLflow's "
            "/invocations.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "object"},
                            },
                        }
                    },
                },
                "Violation": {
                    "type": "object",
                    "properties": {
                        "column": {"type": "string"},
                        "kind": {
                            "enum": [
                                "missing_column",
                                "unexpected_column",
                                "wrong_type",
                                "null_values",
                                "out_of_range",
                                "unseen_category",
                            ]
                        },
                        "count": {"type": "integer"},
                        "rows": {"type": "array", "items": {"type": "integer"}},
                        "message": {"type": "string"},
                        "severity": {"enum": ["error", "warning"]},
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/endpoints/{name}/predict": {
                "post": {
                    "summary": "Predict records with an endpoint (role: predictor)",
                    "parameters": [
                        NAME,
                        {"name": "explain", "in": "query", "schema": {"type": "boolean"}},
                        *headers,
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": predict_request}},
                    },
                    "responses": {
                        "200": _json(predict_response, "the predictions"),
                        **_errors(400, 401, 403, 404, 409, 413, 422, 501, 503),
                    },
                }
            },
            "/v1/endpoints/{name}/feedback": {
                "post": {
                    "summary": "Record the label of a prediction, or correct it with "
                    '"correct": true and a "reason" (role: labeler + owner)',
                    "parameters": [NAME],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["request_id", "label"],
                                    "properties": {
                                        "request_id": {"type": "string"},
                                        "label": {},
                                        "kpis": {"type": "object"},
                                        "correct": {"type": "boolean", "default": False},
                                        "reason": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json({"type": "object"}, "what was stored"),
                        **_errors(400, 401, 403, 404, 409, 501),
                    },
                }
            },
            "/v1/endpoints": {
                "get": {
                    "summary": "Endpoints and their active revisions (role: viewer)",
                    "responses": {"200": _json({"type": "array"}), **_errors(401, 403)},
                }
            },
            "/v1/endpoints/{name}": {
                "get": {
                    "summary": "One endpoint, and what this server serves of it (role: viewer)",
                    "parameters": [NAME],
                    "responses": {"200": _json({"type": "object"}), **_errors(401, 403, 404)},
                }
            },
            "/v1/endpoints/{name}/history": {
                "get": {
                    "summary": "Every deployment revision, oldest first (role: viewer)",
                    "parameters": [NAME],
                    "responses": {"200": _json({"type": "array"}), **_errors(401, 403, 404)},
                }
            },
            "/v1/endpoints/{name}/deployments": {
                "post": {
                    "summary": "Deploy, canary, shadow or promote (role: deployer + owner)",
                    "parameters": [NAME],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "action": {
                                            "enum": [
                                                "deploy",
                                                "canary",
                                                "shadow",
                                                "promote_canary",
                                                "end_canary",
                                                "remove_shadow",
                                            ]
                                        },
                                        "model": {"type": "string"},
                                        "share": {"type": "number", "description": "percent"},
                                        "fallback": {"type": "string"},
                                        "reason": {"type": "string"},
                                        "override": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"type": "object"}, "the new revision"),
                        **_errors(400, 401, 403, 404, 409, 412),
                    },
                }
            },
            "/v1/endpoints/{name}/rollback": {
                "post": {
                    "summary": "Activate the previous revision (role: deployer + owner)",
                    "parameters": [NAME],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "reason": {"type": "string"},
                                        "to": {"type": "integer"},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "201": _json({"type": "object"}, "the new revision"),
                        **_errors(400, 401, 403, 404, 409),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": _json({"type": "object"})},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: deployments loaded",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}), **_errors(503)},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (role: viewer)",
                    "responses": {"200": {"description": "Prometheus text format"}},
                }
            },
        },
    }
