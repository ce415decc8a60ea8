"""Storage rows of serving: endpoints, their deployment revisions, and stored responses
(for idempotent requests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stead.core.db import Base, UTCDateTime, entity_from_row
from stead.serving.deploy.deployment import Deployment, check_action
from stead.serving.deploy.router import TrafficPolicy


class EndpointRow(Base):
    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The owner of the production version, kept with each change: who may change it.
    owner: Mapped[str] = mapped_column(String(200))
    # The active revision: a cache of the newest deployment row, kept in the same
    # transaction.
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class DeploymentRow(Base):
    __tablename__ = "endpoint_deployments"
    __table_args__ = (
        UniqueConstraint("endpoint", "revision", name="uq_endpoint_deployments_revision"),
    )

    # The sequence over every endpoint: servers poll max(id) to notice any change.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(200), ForeignKey("endpoints.name"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    restores: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    overridden: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    checklist: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)

    def to_entity(self) -> Deployment:
        return entity_from_row(
            Deployment,
            self,
            sequence=self.id,
            action=check_action(self.action),
            policy=TrafficPolicy.from_dict(self.policy),
            overridden=dict(self.overridden or {}),
            checklist=dict(self.checklist or {}),
        )


class StoredResponseRow(Base):
    """A response kept for replay under its Idempotency-Key (or client request id).

    Not an audited change of state: the prediction log is the record of predictions;
    this is a bounded cache that every worker and replica shares.
    """

    __tablename__ = "stored_responses"

    # sha256 of endpoint + key, so any client key fits a fixed-size primary key.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    client_key: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
