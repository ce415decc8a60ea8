"""data: dataset snapshots

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_snapshots",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("artifact", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("source_path", sa.String(1000), nullable=True),
        sa.Column("source_hash", sa.String(64), nullable=True),
        sa.Column("parent_id", sa.String(40), sa.ForeignKey("dataset_snapshots.id"), nullable=True),
        sa.Column("code_version", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_dataset_snapshots_name_version"),
        sa.UniqueConstraint("name", "content_hash", name="uq_dataset_snapshots_name_content"),
    )
    op.create_index("ix_dataset_snapshots_name", "dataset_snapshots", ["name"])


def downgrade() -> None:
    op.drop_table("dataset_snapshots")
