"""The PredictionRecord: one logged prediction, as the server hands it to the log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from stead.core.errors import UsageError

Role = Literal["production", "canary", "shadow", "fallback", "rejected"]
ROLES: frozenset[str] = frozenset(get_args(Role))

# Endpoint names become directory names (``endpoint=<name>``): keep them path-safe and
# free of the characters Hive partitioning would have to escape.
_ENDPOINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")


def check_endpoint(name: str) -> str:
    """Return ``name`` if it can name an endpoint (and its log directory).

    Raises:
        UsageError: the name is empty, too long or has characters other than letters,
            digits, ``_``, ``.`` and ``-``.
    """
    if not isinstance(name, str) or _ENDPOINT.fullmatch(name) is None:
        raise UsageError(
            f"endpoint name {name!r} is not allowed; use 1-200 letters, digits, '_', '.' "
            "or '-', starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictionRecord:
    """One prediction made by one model version for one input record.

    Every prediction is logged, whatever answered it: the production version, a canary,
    a shadow copy or the fallback (``role``). A record the server refused at the edge
    (its contract was not met, nothing answered) is logged with role ``rejected``, no
    outputs and the reason in ``error``, so monitors see schema changes in refused
    traffic too. A request with several input records gives
    one PredictionRecord per input record, sharing ``request_id`` only when the server
    says so (the server decides how ids are assigned).

    Attributes:
        request_id: the id the response carried; the key of lineage and feedback.
        timestamp: when the prediction was made; timezone-aware, stored as UTC. Its UTC
            date chooses the ``date=`` partition.
        endpoint: the endpoint name (letters, digits, ``_ . -``); chooses the
            ``endpoint=`` partition.
        revision: the deployment revision that routed the request (``None`` for batch
            scoring against a model version directly).
        model_version: the version that answered, e.g. ``"credit@3"``.
        role: ``production``, ``canary``, ``shadow`` or ``fallback``.
        feature_set_version: the feature-set version the model was trained with.
        snapshot: the training data snapshot (a ref like ``credit@2`` or an id).
        inputs: the input record, column name to scalar value. PII columns are dropped
            or hashed by the log's sanitizer before anything reaches disk.
        outputs: what the model answered, e.g. ``{"prediction": "yes",
            "probabilities": {"no": 0.2, "yes": 0.8}}`` or ``{"value": 3.5}``.
        latency_ms: time spent answering, in milliseconds.
        error: ``None``, or what went wrong (the prediction may then be empty).
        entity_key: the entity the canary routing hashed, when there was one.
        explanation: per-feature contributions, when the caller asked for them.
        out_of_range: the input fields outside the training range that the model was
            served with anyway (``[serving] out_of_range = "warn"``), in contract order.

    Raises:
        UsageError: on a naive timestamp, an unknown role or an unusable endpoint name.
    """

    request_id: str
    timestamp: datetime
    endpoint: str
    revision: int | None
    model_version: str
    role: Role
    feature_set_version: str | None
    snapshot: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    latency_ms: float
    error: str | None = None
    entity_key: str | None = None
    explanation: dict[str, Any] | None = None
    out_of_range: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Checked here, on the caller's thread, so a bad record fails where it was made
        # instead of poisoning a batch in the background writer.
        if self.timestamp.tzinfo is None:
            raise UsageError(
                f"prediction {self.request_id}: timestamp {self.timestamp.isoformat()} has no "
                "timezone; pass an aware time such as datetime.now(UTC)"
            )
        if self.timestamp.utcoffset():
            object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))
        if self.role not in ROLES:
            raise UsageError(
                f"prediction {self.request_id}: role {self.role!r} is not one of "
                + ", ".join(sorted(ROLES))
            )
        if _ENDPOINT.fullmatch(self.endpoint) is None:
            check_endpoint(self.endpoint)

    @property
    def day(self) -> date:
        """The UTC date of the prediction: its ``date=`` partition."""
        return self.timestamp.date()
