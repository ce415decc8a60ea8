"""serving: endpoints, their deployment revisions and stored responses

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "endpoint_deployments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(200), sa.ForeignKey("endpoints.name"), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("restores", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
        sa.Column("overridden", sa.JSON, nullable=False),
        sa.Column("checklist", sa.JSON, nullable=False),
        sa.UniqueConstraint("endpoint", "revision", name="uq_endpoint_deployments_revision"),
    )
    op.create_index("ix_endpoint_deployments_endpoint", "endpoint_deployments", ["endpoint"])
    op.create_table(
        "stored_responses",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("client_key", sa.String(300), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_stored_responses_expires_at", "stored_responses", ["expires_at"])


def downgrade() -> None:
    op.drop_table("stored_responses")
    op.drop_table("endpoint_deployments")
    op.drop_table("endpoints")
