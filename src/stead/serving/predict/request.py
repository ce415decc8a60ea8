"""A prediction request as the engine sees it, whatever protocol brought it, and its
answer before it is logged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stead.core.errors import ContractViolation
    from stead.serving.explain import Explanation
    from stead.serving.predict.contract import EdgeBatch
    from stead.serving.predict.pool import ServedModel


@dataclass(frozen=True)
class PredictRequest:
    """What to predict: ``records`` (a list of objects) or ``columns`` (field → list)."""

    endpoint: str
    request_id: str
    records: Sequence[Any] | None = None
    columns: dict[str, Any] | None = None
    entity_key: str | None = None
    explain: bool = False
    # Answer the records that meet the contract and give the others their own error
    # (see :class:`RecordError`), instead of refusing the whole request.
    record_errors: bool = False

    @property
    def rows(self) -> int:
        if self.records is not None:
            return len(self.records)
        return len(next(iter(self.columns.values()), [])) if self.columns else 0

    def record_dicts(self) -> list[dict[str, Any]]:
        if self.records is not None:
            return [r if isinstance(r, dict) else {"record": r} for r in self.records]
        assert self.columns is not None
        names = list(self.columns)
        return [
            dict(zip(names, row, strict=True)) for row in zip(*self.columns.values(), strict=True)
        ]

    def field_values(self, name: str) -> list[Any] | None:
        if self.records is not None:
            return [r.get(name) if isinstance(r, dict) else None for r in self.records]
        assert self.columns is not None
        values = self.columns.get(name)
        return values if isinstance(values, list) else None


@dataclass(frozen=True)
class RecordError:
    """One record refused by its version's contract while the request's others were
    answered (``record_errors``); logged with role ``rejected`` like a refused request."""

    record: int
    request_id: str
    served: ServedModel
    error: ContractViolation

    @property
    def reason(self) -> str:
        """What the log keeps in ``error``."""
        return f"{self.error.code}: {self.error.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "request_id": self.request_id,
            "code": self.error.code,
            "message": self.error.message,
            "violations": self.error.details.get("violations", []),
        }


@dataclass
class Part:
    """The records of a request one version answered."""

    positions: list[int]
    ref: str
    role: str
    served: ServedModel
    batch: EdgeBatch
    outputs: list[dict[str, Any]]
    seconds: float
    failure: str | None = None  # why the routed version did not answer
    failed: ServedModel | None = None
    failed_role: str | None = None
    explanation: Explanation | None = None  # of the part's records, in ``positions`` order


@dataclass
class Answer:
    """A request's answer, before it is logged (see :meth:`ServingEngine.finish`)."""

    request: PredictRequest
    revision: int
    ids: list[str]
    outputs: list[dict[str, Any]]
    versions: list[str]
    fallback: list[bool]
    keys: list[str | None]
    shadows: tuple[str, ...]
    parts: list[Part]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Per record, the fields served outside the training range (empty: none).
    out_of_range: list[tuple[str, ...]] = field(default_factory=list)
    # The records refused on their own (``record_errors``), by record index.
    errors: list[RecordError] = field(default_factory=list)
    # Per record, the part that answered it and its place there (``None``: not explained).
    explanations: list[tuple[Explanation, int] | None] | None = None
    timestamp: Any = None

    @property
    def model_version(self) -> str:
        first = self.versions[0] if self.versions else ""
        return first if all(v == first for v in self.versions) else "mixed"

    @property
    def any_fallback(self) -> bool:
        return any(self.fallback)

    def body(self) -> dict[str, Any]:
        """The native API's response."""
        mixed = self.model_version == "mixed"
        several = len(self.outputs) > 1
        refused = {e.record for e in self.errors}
        predictions: list[dict[str, Any] | None] = []
        for i, output in enumerate(self.outputs):
            if i in refused:  # its place kept, so positions stay those of the request
                predictions.append(None)
                continue
            item = dict(output)
            if several:
                item["request_id"] = self.ids[i]
            if mixed:
                item["model_version"] = self.versions[i]
                item["fallback"] = self.fallback[i]
            if self.explanations is not None and self.explanations[i] is not None:
                explanation, j = self.explanations[i]  # type: ignore[misc]
                item["explanation"] = explanation.contributions[j]
                item.update(explanation.answer(j))
            if self.out_of_range and self.out_of_range[i]:
                item["out_of_range"] = list(self.out_of_range[i])
            predictions.append(item)
        body: dict[str, Any] = {
            "request_id": self.request.request_id,
            "endpoint": self.request.endpoint,
            "revision": self.revision,
            "model_version": self.model_version,
            "fallback": self.any_fallback,
            "predictions": predictions,
        }
        if self.warnings:
            body["warnings"] = self.warnings
        if self.errors:
            body["errors"] = [e.to_dict() for e in self.errors]
        return body
