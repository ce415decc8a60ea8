"""Storage rows of the registry: versions, their stage changes and checklist evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.data.contract import Contract
from stead.registry.evidence import Evidence
from stead.registry.version import ModelVersion, StageChange


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_model_versions_name_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The current stage: a cache of the newest stage change, kept in the same transaction.
    stage: Mapped[str] = mapped_column(String(20), index=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("training_runs.id"), index=True)
    task: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(200))
    artifacts: Mapped[dict[str, str]] = mapped_column(JSON)
    trusted_types: Mapped[list[str]] = mapped_column(JSON)
    snapshot_id: Mapped[str] = mapped_column(String(40), ForeignKey("dataset_snapshots.id"))
    snapshot_ref: Mapped[str] = mapped_column(String(220))
    snapshot_hash: Mapped[str] = mapped_column(String(64))
    feature_set_id: Mapped[str] = mapped_column(String(40), ForeignKey("feature_sets.id"))
    feature_set_ref: Mapped[str] = mapped_column(String(280))
    feature_set_version: Mapped[str] = mapped_column(String(64))
    input_columns: Mapped[list[str]] = mapped_column(JSON)
    contract: Mapped[dict[str, Any]] = mapped_column(JSON)
    contract_hash: Mapped[str] = mapped_column(String(64))
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    project: Mapped[dict[str, Any]] = mapped_column(JSON)
    training_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    key_fingerprint: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self) -> ModelVersion:
        return entity_from_row(ModelVersion, self, contract=Contract.from_dict(self.contract))


class ModelStageChangeRow(Base):
    __tablename__ = "model_stage_changes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(40), ForeignKey("model_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    override: Mapped[bool] = mapped_column(Boolean)
    overridden: Mapped[list[str]] = mapped_column(JSON)
    checklist: Mapped[dict[str, str]] = mapped_column(JSON)
    cause: Mapped[str | None] = mapped_column(String(400), nullable=True)

    def to_entity(self) -> StageChange:
        return entity_from_row(StageChange, self)


class ModelEvidenceRow(Base):
    __tablename__ = "model_evidence"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(40), ForeignKey("model_versions.id"), index=True)
    item: Mapped[str] = mapped_column(String(60))
    passed: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self, *, ref: str) -> Evidence:
        return entity_from_row(Evidence, self, model=ref)
