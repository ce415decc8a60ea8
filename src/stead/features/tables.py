"""Storage rows of the features stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.features.definition import FeatureSet


class FeatureSetRow(Base):
    __tablename__ = "feature_sets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_feature_sets_name_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(64))
    definition: Mapped[str] = mapped_column(String(400))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    sklearn_version: Mapped[str] = mapped_column(String(40))
    source_hash: Mapped[str] = mapped_column(String(64))
    sources: Mapped[dict[str, str]] = mapped_column(JSON)
    sources_artifact: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    def to_entity(self) -> FeatureSet:
        return entity_from_row(FeatureSet, self)
