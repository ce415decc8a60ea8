"""What the prediction log keeps of an answer: one PredictionRecord per record and per
version that handled it, answered or refused.

An answered record is logged once for the version that answered it (and once more, with
the error, for a version that failed before the fallback answered), flagged with the
fields it carried outside the training range. A refused record (the whole request, or one
record of a request answered with ``record_errors``) is logged with role ``rejected``, no
outputs and the reason, under the same ``<request id>.<i>`` id the answer gave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stead.predictions.record import PredictionRecord
from stead.serving.predict.pool import ServedModel
from stead.serving.predict.request import Answer, PredictRequest

REASON_CHARS = 2_000


def request_ids(request_id: str, rows: int) -> list[str]:
    """A request's record ids: the request's own for one record, ``<id>.<i>`` for more."""
    return [request_id] if rows == 1 else [f"{request_id}.{i}" for i in range(rows)]


def answered_records(answer: Answer) -> list[PredictionRecord]:
    """The records of the versions that answered (or failed to answer) ``answer``."""
    inputs = answer.request.record_dicts()
    out: list[PredictionRecord] = []
    for part in answer.parts:
        latency = part.seconds * 1000.0
        for j, i in enumerate(part.positions):
            if part.failed is not None:
                out.append(
                    record(
                        answer,
                        i,
                        part.failed,
                        part.failed_role or "production",
                        inputs[i],
                        {},
                        latency,
                        part.failure,
                    )
                )
            explanation = (
                part.explanation.contributions[j] if part.explanation is not None else None
            )
            out.append(
                record(
                    answer,
                    i,
                    part.served,
                    part.role,
                    inputs[i],
                    part.outputs[j],
                    latency,
                    None,
                    explanation,
                )
            )
    return out


def record(
    answer: Answer,
    i: int,
    served: ServedModel,
    role: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
    latency_ms: float,
    error: str | None,
    explanation: dict[str, float] | None = None,
    *,
    out_of_range: tuple[str, ...] | None = None,
) -> PredictionRecord:
    """Record ``i`` of ``answer`` as ``served`` handled it in ``role``, flagged with the
    fields outside the range of the contract that checked it (``out_of_range``; by
    default the answer's, a shadow passes its own)."""
    version = served.version
    return PredictionRecord(
        request_id=answer.ids[i],
        timestamp=answer.timestamp,
        endpoint=answer.request.endpoint,
        revision=answer.revision,
        model_version=served.ref,
        role=role,  # type: ignore[arg-type]
        feature_set_version=version.feature_set_version,
        snapshot=version.snapshot_ref,
        inputs=inputs,
        outputs=outputs,
        latency_ms=latency_ms,
        error=error,
        entity_key=answer.keys[i],
        explanation=explanation,
        out_of_range=answer.out_of_range[i] if out_of_range is None else out_of_range,
    )


def refused_records(
    request: PredictRequest,
    reasons: dict[int, str],
    *,
    served: ServedModel,
    revision: int,
    timestamp: datetime,
    ids: Sequence[str],
) -> list[PredictionRecord]:
    """Role ``rejected`` records of the records at ``reasons``' positions, with their
    reason (``"<code>: <message>"``)."""
    inputs = request.record_dicts()
    return [
        PredictionRecord(
            request_id=ids[i],
            timestamp=timestamp,
            endpoint=request.endpoint,
            revision=revision,
            model_version=served.ref,
            role="rejected",
            feature_set_version=served.version.feature_set_version,
            snapshot=served.version.snapshot_ref,
            inputs=inputs[i],
            outputs={},
            latency_ms=0.0,
            error=reason[:REASON_CHARS],
            entity_key=request.entity_key,
        )
        for i, reason in reasons.items()
    ]
