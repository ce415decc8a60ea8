"""Storage rows of what happens after a prediction: feedback and batch-scoring jobs.

Feedback (labels and KPI values that arrive later) and batch jobs are small, keyed facts
that must be unique and audited with the change that wrote them, so they live in the
metadata database; the predictions themselves stay in the Parquet prediction log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime


class FeedbackRow(Base):
    """One label (and optional KPI values) for one logged request id of one endpoint.

    Rows are never updated: a corrected label is a new row, and the newest row of a
    request id is its feedback (older ones stay as history).
    """

    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_endpoint_request", "endpoint", "request_id"),
        Index("ix_feedback_endpoint_predicted_at", "endpoint", "predicted_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str] = mapped_column(String(200))
    # Any JSON scalar: a class ("yes", 1, true) or a value (3.5).
    label: Mapped[Any] = mapped_column(JSON)
    kpis: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Copied from the prediction log when the request id was verified, so that a window
    # of feedback is found by the prediction's time without reading the log.
    predicted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model_version: Mapped[str] = mapped_column(String(220))
    source: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))


class BatchJobRow(Base):
    """One batch-scoring job: an input file (by content) scored by one model version.

    ``(input_hash, version_id, endpoint)`` is unique: scoring the same bytes with the same
    version again reuses the job (same request ids, same output) and logs nothing.
    """

    __tablename__ = "batch_jobs"
    __table_args__ = (
        UniqueConstraint("input_hash", "version_id", "endpoint", name="uq_batch_jobs_input"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    input_hash: Mapped[str] = mapped_column(String(64))
    input_path: Mapped[str] = mapped_column(Text)
    version_id: Mapped[str] = mapped_column(String(40))
    model_version: Mapped[str] = mapped_column(String(220))
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows: Mapped[int] = mapped_column(Integer)
    # "logging" until every prediction is durable in the log, then "logged".
    status: Mapped[str] = mapped_column(String(20))
    output_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    engine: Mapped[str] = mapped_column(String(20))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
