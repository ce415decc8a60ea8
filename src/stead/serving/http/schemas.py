"""The declared shape of every HTTP request body, and reading a body against it.

Each operation's body is one pydantic model here, strict (``"false"`` is not a
boolean, ``true`` is not a revision) and closed (an unknown key is refused, so a typo
does not pass unnoticed). The same models generate the OpenAPI document
(:mod:`stead.serving.http.api`), so the server and its document cannot disagree.

:func:`parse` reads a body against a model and turns every failure into a client error
that names the field, what was given (shortened, never echoed whole) and what is
allowed: 400 ``usage_error`` for a body that does not match its schema or is not JSON,
422 ``unstorable_text`` for a string no store can keep (a lone UTF-16 surrogate).
``null`` is never a value: leave a field out to take its default.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import PlainValidator
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema

from stead.core.errors import UsageError
from stead.serving.errors import UnstorableText

REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}"
NAME_PATTERN = f"^{_NAME}$"
MODEL_PATTERN = f"^{_NAME}@[1-9][0-9]{{0,17}}$"
FALLBACK_PATTERN = f"^{_NAME}@[1-9][0-9]{{0,17}}(:baseline)?$"
# The Open Inference Protocol's tensor types.
DATATYPES: tuple[str, ...] = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16")
DATATYPES += ("INT32", "INT64", "FP16", "FP32", "FP64", "BYTES")
# Field names: what a column name may be in a snapshot's schema, and no longer.
FIELD_NAME_MAX = 256
INT64 = (-(2**63), 2**63 - 1)
SHOWN = 60

Model = TypeVar("Model", bound=BaseModel)


def _value(value: Any) -> Any:
    kind = type(value)
    if value is None or kind in (bool, float, str):
        return value
    if kind is int:
        if not INT64[0] <= value <= INT64[1]:
            raise ValueError("a whole number must fit in 64 bits (-2**63 .. 2**63-1)")
        return value
    raise ValueError(f"a value is null, true/false, a number or text, not {_json_kind(value)}")


def _whole(value: Any) -> int:
    if type(value) is float and value.is_integer():
        value = int(value)  # JSON Schema's integer: 3.0 is one
    if type(value) is not int:
        raise ValueError(f"a whole number is needed, not {_json_kind(value)}")
    return value


def whole(low: int, high: int = INT64[1]) -> Any:
    """A whole number in [low, high] (``3.0`` is one, ``true`` is not)."""

    def check(value: Any) -> int:
        number = _whole(value)
        if not low <= number <= high:
            raise ValueError(f"must be from {low} to {high}, not {number}")
        return number

    return Annotated[
        Any,
        PlainValidator(check),
        WithJsonSchema({"type": "integer", "minimum": low, "maximum": high}),
    ]


# One record field's value. A contract's columns are numbers, text, true/false and
# timestamps (text), so an object or a list is never a value.
Value = Annotated[
    Any,
    PlainValidator(_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "null"},
                {"type": "boolean"},
                {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]},
                {"type": "number"},
                {"type": "string"},
            ]
        }
    ),
]
FieldName = Annotated[str, Field(min_length=1, max_length=FIELD_NAME_MAX)]
Text = Annotated[str, Field(max_length=10_000)]
Ref = Annotated[str, Field(pattern=MODEL_PATTERN)]
Fallback = Annotated[str, Field(pattern=FALLBACK_PATTERN)]
RequestId = Annotated[str, Field(pattern=REQUEST_ID_PATTERN)]
Record = Annotated[dict[FieldName, Value], Field(min_length=1)]
Records = Annotated[list[Record], Field(min_length=1)]
Columns = Annotated[
    dict[FieldName, Annotated[list[Value], Field(min_length=1)]], Field(min_length=1)
]


def _absent(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(**constraints: Any) -> Any:
    """A field that may be left out (``None`` then); its schema shows no null."""
    return Field(default=None, json_schema_extra=_absent, **constraints)


class Body(BaseModel):
    """A request body: strict types, no unknown keys, no explicit nulls."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nulls(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("null is never a value; leave the field out to take its default")
        return value


class PredictBody(Body):
    """``POST /v1/endpoints/{name}/predict``: exactly one of ``records`` or ``columns``."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["records"]}, {"required": ["columns"]}]}
    )
    records: Records | SkipJsonSchema[None] = optional(
        description="one object per record: field → value"
    )
    columns: Columns | SkipJsonSchema[None] = optional(
        description="field → one value per record, every list as long"
    )
    request_id: RequestId | SkipJsonSchema[None] = optional(
        description="the client's id for this request (also an idempotency key)"
    )

    @model_validator(mode="after")
    def _one_form(self) -> PredictBody:
        if (self.records is None) == (self.columns is None):
            raise ValueError(
                'send exactly one of "records" (a list of objects) or "columns" (an object '
                "of field → list of values)"
            )
        return self


def _scalar(value: Any) -> Any:
    if value is None or type(value) in (list, dict):
        raise ValueError(f"use a number, text or true/false, not {_json_kind(value)}")
    return _value(value)


# A label or KPI value.
Scalar = Annotated[
    Any,
    PlainValidator(_scalar),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "integer", "minimum": INT64[0], "maximum": INT64[1]},
                {"type": "number"},
                {"type": "string", "maxLength": 10_000},
            ]
        }
    ),
]


class FeedbackBody(Body):
    """``POST /v1/endpoints/{name}/feedback``: the label of one logged prediction."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"correct": {"const": True}}, "required": ["correct"]},
            "then": {"required": ["reason"]},
        }
    )

    request_id: Annotated[str, Field(pattern=r"\S", max_length=200)]
    label: Scalar
    kpis: dict[FieldName, Scalar] | SkipJsonSchema[None] = optional(
        description="business KPI values of this prediction, by name"
    )
    correct: bool = Field(
        default=False,
        description="true: change a label already recorded (a correction, needs a reason)",
    )
    reason: Annotated[str, Field(pattern=r"\S", max_length=2000)] | SkipJsonSchema[None] = optional(
        description="why the label is corrected; recorded in the audit trail"
    )

    @model_validator(mode="after")
    def _reason_for_a_correction(self) -> FeedbackBody:
        if self.correct and self.reason is None:
            raise ValueError('a correction ("correct": true) needs "reason": "..."')
        return self


Action = Literal["deploy", "canary", "shadow", "promote_canary", "end_canary", "remove_shadow"]
NEEDS_MODEL = ("deploy", "canary", "shadow", "remove_shadow")
Share = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]


class DeploymentBody(Body):
    """``POST /v1/endpoints/{name}/deployments``: one change of the traffic policy."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"action": {"enum": list(NEEDS_MODEL)}}},
            "then": {"required": ["model"]},
        }
    )
    action: Action = Field(default="deploy", description="what to change")
    model: Ref | SkipJsonSchema[None] = optional(description="the version, NAME@N")
    share: Share | SkipJsonSchema[None] = optional(
        description="percent of traffic (canary: default 10, shadow: default 100)"
    )
    fallback: Fallback | SkipJsonSchema[None] = optional(
        description="what answers when the model fails: NAME@N or NAME@N:baseline"
    )
    reason: Text | SkipJsonSchema[None] = optional(description="why, for the audit trail")
    override: bool = Field(default=False, description="deploy despite the checklist (admin)")

    @model_validator(mode="after")
    def _model_when_needed(self) -> DeploymentBody:
        if self.action in NEEDS_MODEL and self.model is None:
            raise ValueError(f'action {self.action!r} needs "model": "NAME@N"')
        return self


class RollbackBody(Body):
    """``POST /v1/endpoints/{name}/rollback`` (an empty body is ``{}``)."""

    to: whole(1) | SkipJsonSchema[None] = optional(  # type: ignore[valid-type]
        description="the revision to restore (default: the one before the active one)"
    )
    reason: Text | SkipJsonSchema[None] = optional(description="why, for the audit trail")


TensorData = list[Any]


class InferInput(BaseModel):
    """One input tensor of an Open Inference Protocol request."""

    model_config = ConfigDict(strict=True, frozen=True)
    name: Annotated[str, Field(min_length=1, max_length=FIELD_NAME_MAX)]
    shape: Annotated[
        list[whole(1, 1_000_000)],  # type: ignore[valid-type]
        Field(min_length=1, max_length=2),
    ]
    datatype: Literal[DATATYPES]  # type: ignore[valid-type]
    data: Annotated[TensorData, Field(min_length=1)]
    parameters: dict[str, Any] | SkipJsonSchema[None] = optional()


class InferOutput(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)
    name: Annotated[str, Field(min_length=1, max_length=FIELD_NAME_MAX)]
    parameters: dict[str, Any] | SkipJsonSchema[None] = optional()


class InferBody(BaseModel):
    """``POST /v2/models/{name}/infer`` (the JSON form)."""

    model_config = ConfigDict(strict=True, frozen=True)
    # The client's request id (empty: none), held to the X-Request-Id rule.
    id: Annotated[str, Field(pattern=r"^$|" + REQUEST_ID_PATTERN)] | SkipJsonSchema[None] = (
        optional()
    )
    inputs: Annotated[list[InferInput], Field(min_length=1)]
    outputs: list[InferOutput] | SkipJsonSchema[None] = optional()
    parameters: dict[str, Any] | SkipJsonSchema[None] = optional()


class DataframeSplit(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")
    columns: Annotated[list[FieldName], Field(min_length=1)]
    data: Annotated[list[list[Value]], Field(min_length=1)]
    index: SkipJsonSchema[list[Any] | None] = None


class InvocationsBody(Body):
    """``POST /invocations``: one of MLflow's four input forms."""

    # Other keys (MLflow's "params") are ignored, as MLflow's own server does.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "oneOf": [
                {"required": [key]}
                for key in ("dataframe_split", "dataframe_records", "inputs", "instances")
            ]
        },
    )
    dataframe_split: DataframeSplit | SkipJsonSchema[None] = optional()
    dataframe_records: Records | Columns | SkipJsonSchema[None] = optional()
    inputs: Records | Columns | SkipJsonSchema[None] = optional()
    instances: Records | Columns | SkipJsonSchema[None] = optional()

    @model_validator(mode="after")
    def _one_form(self) -> InvocationsBody:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "send exactly one of dataframe_split, dataframe_records, inputs or instances"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


# -- reading a body ----------------------------------------------------------------

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse(model: type[Model], body: bytes, *, operation: str) -> Model:
    """``body`` read as ``model``.

    Args:
        model: the operation's declared body.
        body: the raw request body.
        operation: ``"POST /path"``, for messages.

    Raises:
        UsageError: not JSON, or not of the declared shape (400, naming each field).
        UnstorableText: a string holds a lone UTF-16 surrogate (422, naming the field).
    """
    if not body.strip():
        raise UsageError(f"{operation} needs a JSON body; see /openapi.json for its schema")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise refusal(exc, body, operation=operation) from None


def validate(model: type[Model], document: Any, *, operation: str) -> Model:
    """A JSON document already read (by :func:`read_json`) checked as ``model``.

    Raises:
        UsageError: it is not of the declared shape (400, naming each field).
    """
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise refusal(exc, b"", operation=operation) from None


def read_json(body: bytes) -> Any:
    """The JSON document of a body, with the checks of :func:`parse` but no schema.

    Raises:
        UsageError: empty, not JSON, or nested too deeply.
        UnstorableText: a string holds a lone UTF-16 surrogate.
    """
    if not body.strip():
        raise UsageError("the request has no body; send a JSON document")
    try:
        document = json.loads(body)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"the request body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(body):
        _check_text(document)
    return document


def _too_deep() -> UsageError:
    return UsageError("the request body nests too deeply; at most 200 levels are read")


def _check_text(document: Any) -> None:
    where = _surrogate(document, ())
    if where is not None:
        raise UnstorableText(
            f"the text of {_path(where) or '(body)'} holds a lone UTF-16 surrogate "
            "(\\ud800-\\udfff without its pair), which no log or store can keep; send "
            "valid Unicode",
            details={"field": _path(where)},
        )


def refusal(exc: ValidationError, body: bytes, *, operation: str) -> UsageError:
    """The client error for a body ``exc`` refused."""
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        return _not_json(body, str(errors[0].get("ctx", {}).get("error", errors[0]["msg"])))
    errors = _without_union_tags(errors)
    problems = []
    for error in errors[:10]:
        loc, message = error["loc"], str(error["msg"]).removeprefix("Value error, ")
        if loc[-1:] == ("[key]",):  # a key of an object, not its value
            loc, message = loc[:-2], f"a field name: {message}"
        where = _path(loc)
        problem: dict[str, Any] = {"field": where or "(body)", "problem": message}
        if error["type"] not in ("missing", "value_error") or where:
            problem["given"] = _shown(error.get("input"))
        problems.append(problem)
    head = "; ".join(
        f"{p['field']}: {p['problem']}" + (f" (given {p['given']})" if "given" in p else "")
        for p in problems[:3]
    )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return UsageError(
        f"the body of {operation} does not match its schema: {head}{more}; see /openapi.json",
        details={"errors": problems},
    )


def _without_union_tags(errors: list[Any]) -> list[Any]:
    """The errors of an optional field (``X | None`` inside) as errors of ``X``: the
    ``None`` branch's complaint dropped, the branch's tag taken out of the location."""
    optional = {e["loc"][:-1] for e in errors if e["loc"] and e["loc"][-1] == "none"}
    kept = []
    for error in errors:
        loc = error["loc"]
        if loc and loc[-1] == "none" and loc[:-1] in optional:
            continue
        for prefix in optional:
            if loc[: len(prefix)] == prefix and len(loc) > len(prefix):
                loc = (*prefix, *loc[len(prefix) + 1 :])
                break
        kept.append({**error, "loc": loc})
    return kept


def _not_json(body: bytes, reason: str) -> UsageError:
    """Why a body the fast parser refused is not usable, naming the field of a lone
    surrogate (which Python's own parser accepts, so that it can be found)."""
    try:
        read_json(body)
    except UsageError as exc:  # a lone surrogate, too deep, or not JSON for either parser
        return exc
    return UsageError(f"the request body is not valid JSON: {reason}")


def _surrogate(value: Any, at: tuple[Any, ...]) -> tuple[Any, ...] | None:
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, at)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not _encodes(item):
                return where
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not _encodes(key):
                    return (*where, key)
                stack.append((inner, (*where, key)))
        elif isinstance(item, list):
            stack.extend((inner, (*where, i)) for i, inner in enumerate(item))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            text = str(part).encode("utf-8", "backslashreplace").decode()
            text = text if len(text) <= SHOWN else text[:SHOWN] + "..."
            parts.append(f".{text}" if parts else text)
    return "".join(parts)


def _shown(value: Any) -> str:
    """A given value for a message: its JSON, shortened; never the whole of a large one."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + f"... ({len(text)} characters)"


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else type(value).__name__
