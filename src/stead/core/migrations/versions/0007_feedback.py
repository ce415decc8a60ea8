"""serving: feedback joined by request id, and batch-scoring jobs

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("kpis", sa.JSON, nullable=False),
        sa.Column("predicted_at", UTCDateTime, nullable=False),
        sa.Column("model_version", sa.String(220), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_feedback_endpoint_request", "feedback", ["endpoint", "request_id"])
    op.create_index("ix_feedback_endpoint_predicted_at", "feedback", ["endpoint", "predicted_at"])
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("input_path", sa.Text, nullable=False),
        sa.Column("version_id", sa.String(40), nullable=False),
        sa.Column("model_version", sa.String(220), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("output_hash", sa.String(64), nullable=True),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("scored_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("input_hash", "version_id", "endpoint", name="uq_batch_jobs_input"),
    )
    op.create_index("ix_batch_jobs_endpoint", "batch_jobs", ["endpoint"])


def downgrade() -> None:
    op.drop_table("batch_jobs")
    op.drop_table("feedback")
