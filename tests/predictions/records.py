"""Deterministic prediction records for the serving tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stead.predictions.record import PredictionRecord

BASE_TIME = datetime(2026, 3, 1, 12, tzinfo=UTC)


def make_record(i: int = 0, **changes: Any) -> PredictionRecord:
    """Record ``i``: one second after record ``i - 1``, with a PII e-mail among its inputs."""
    fields: dict[str, Any] = {
        "request_id": f"req-{i:06d}",
        "timestamp": BASE_TIME + timedelta(seconds=i),
        "endpoint": "credit",
        "revision": 1,
        "model_version": "credit@1",
        "role": "production",
        "feature_set_version": "fs-1",
        "snapshot": "credit@1",
        "inputs": {
            "age": 30 + i % 50,
            "income": 1000.5 + i,
            "city": "Paris",
            "email": f"user{i}@example.com",
        },
        "outputs": {"prediction": "yes", "probabilities": {"no": 0.25, "yes": 0.75}},
        "latency_ms": 1.0 + i / 1000,
    }
    fields.update(changes)
    return PredictionRecord(**fields)
