"""Storage rows of the training stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.training.liveness import ProcessStamp, is_alive
from stead.training.run import RunCodeVersion, RunStatus, RunVerification, TrainingRun
from stead.training.spec import RunSpec


class TrainingRunRow(Base):
    __tablename__ = "training_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    project: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    snapshot_id: Mapped[str] = mapped_column(String(40), ForeignKey("dataset_snapshots.id"))
    snapshot_ref: Mapped[str] = mapped_column(String(220))
    feature_set_id: Mapped[str] = mapped_column(String(40), ForeignKey("feature_sets.id"))
    feature_set_ref: Mapped[str] = mapped_column(String(280))
    input_columns: Mapped[list[str]] = mapped_column(JSON)
    output_columns: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    classes: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    code_version: Mapped[dict[str, Any]] = mapped_column(JSON)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON)
    split: Mapped[dict[str, Any]] = mapped_column(JSON)
    leakage: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline_metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    model_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    baseline_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    predictions_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    eval_rows_artifact: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trusted_types: Mapped[list[str]] = mapped_column(JSON)
    seeded_params: Mapped[list[str]] = mapped_column(JSON)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    forced: Mapped[bool] = mapped_column(Boolean)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    process_start: Mapped[str | None] = mapped_column(String(80), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self) -> TrainingRun:
        status: RunStatus = self.status  # type: ignore[assignment]
        error = self.error
        if status == "running":
            stamp = ProcessStamp(self.host, self.pid, self.process_start)
            if is_alive(stamp) is False:
                status = "interrupted"
                error = (
                    f"the training process (pid {self.pid} on {self.host}) ended without "
                    "recording a result: it was killed or crashed"
                )
        return entity_from_row(
            TrainingRun,
            self,
            status=status,
            error=error,
            spec=RunSpec.from_dict(self.spec),
            feature_set_version=self.feature_set_ref.rpartition("@")[2],
            code_version=RunCodeVersion(**self.code_version),
        )


class RunVerificationRow(Base):
    __tablename__ = "run_verifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("training_runs.id"), index=True)
    verified: Mapped[bool] = mapped_column(Boolean)
    predictions_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON)
    differences: Mapped[dict[str, Any]] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self) -> RunVerification:
        return entity_from_row(RunVerification, self)
