"""registry: model versions, their stage changes and checklist evidence

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("training_runs.id"), nullable=False),
        sa.Column("task", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("artifacts", sa.JSON, nullable=False),
        sa.Column("trusted_types", sa.JSON, nullable=False),
        sa.Column(
            "snapshot_id", sa.String(40), sa.ForeignKey("dataset_snapshots.id"), nullable=False
        ),
        sa.Column("snapshot_ref", sa.String(220), nullable=False),
        sa.Column("snapshot_hash", sa.String(64), nullable=False),
        sa.Column(
            "feature_set_id", sa.String(40), sa.ForeignKey("feature_sets.id"), nullable=False
        ),
        sa.Column("feature_set_ref", sa.String(280), nullable=False),
        sa.Column("feature_set_version", sa.String(64), nullable=False),
        sa.Column("input_columns", sa.JSON, nullable=False),
        sa.Column("contract", sa.JSON, nullable=False),
        sa.Column("contract_hash", sa.String(64), nullable=False),
        sa.Column("output", sa.JSON, nullable=False),
        sa.Column("project", sa.JSON, nullable=False),
        sa.Column("training_data", sa.JSON, nullable=False),
        sa.Column("reference", sa.JSON, nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("key_fingerprint", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )
    op.create_index("ix_model_versions_name", "model_versions", ["name"])
    op.create_index("ix_model_versions_stage", "model_versions", ["stage"])
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_stage_changes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("version_id", sa.String(40), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("from_stage", sa.String(20), nullable=True),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
        sa.Column("overridden", sa.JSON, nullable=False),
        sa.Column("checklist", sa.JSON, nullable=False),
        sa.Column("cause", sa.String(400), nullable=True),
    )
    op.create_index("ix_model_stage_changes_version_id", "model_stage_changes", ["version_id"])
    op.create_index("ix_model_stage_changes_name", "model_stage_changes", ["name"])
    op.create_index("ix_model_stage_changes_at", "model_stage_changes", ["at"])
    op.create_table(
        "model_evidence",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("version_id", sa.String(40), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("item", sa.String(60), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_model_evidence_version_id", "model_evidence", ["version_id"])


def downgrade() -> None:
    op.drop_table("model_evidence")
    op.drop_table("model_stage_changes")
    op.drop_table("model_versions")
