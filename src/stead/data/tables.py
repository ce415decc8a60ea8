"""Storage rows of the data stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.core.provenance import CodeVersion
from stead.data.profile import Profile
from stead.data.schema import Schema
from stead.data.snapshot import DatasetSnapshot


class DatasetSnapshotRow(Base):
    __tablename__ = "dataset_snapshots"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_dataset_snapshots_name_version"),
        UniqueConstraint("name", "content_hash", name="uq_dataset_snapshots_name_content"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    artifact: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    source_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("dataset_snapshots.id"), nullable=True
    )
    code_version: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    # "keyed_hash" or "raw" for a snapshot with PII columns, else null.
    pii_storage: Mapped[str | None] = mapped_column(String(20), nullable=True)

    def to_entity(self) -> DatasetSnapshot:
        return entity_from_row(
            DatasetSnapshot,
            self,
            schema=Schema.from_dict(self.schema),
            profile=Profile.from_dict(self.profile),
            code_version=CodeVersion(**self.code_version),
        )
