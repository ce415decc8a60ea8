"""training: feature sets, training runs and their reproduction verifications

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_sets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("definition", sa.String(400), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("sklearn_version", sa.String(40), nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("sources_artifact", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_feature_sets_name_version"),
    )
    op.create_index("ix_feature_sets_name", "feature_sets", ["name"])
    op.create_table(
        "training_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column(
            "snapshot_id", sa.String(40), sa.ForeignKey("dataset_snapshots.id"), nullable=False
        ),
        sa.Column("snapshot_ref", sa.String(220), nullable=False),
        sa.Column(
            "feature_set_id", sa.String(40), sa.ForeignKey("feature_sets.id"), nullable=False
        ),
        sa.Column("feature_set_ref", sa.String(280), nullable=False),
        sa.Column("input_columns", sa.JSON, nullable=False),
        sa.Column("output_columns", sa.JSON, nullable=True),
        sa.Column("classes", sa.JSON, nullable=True),
        sa.Column("code_version", sa.JSON, nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("split", sa.JSON, nullable=False),
        sa.Column("leakage", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("baseline_metrics", sa.JSON, nullable=False),
        sa.Column("model_artifact", sa.String(64), nullable=True),
        sa.Column("baseline_artifact", sa.String(64), nullable=True),
        sa.Column("predictions_artifact", sa.String(64), nullable=True),
        sa.Column("eval_rows_artifact", sa.String(64), nullable=True),
        sa.Column("trusted_types", sa.JSON, nullable=False),
        sa.Column("seeded_params", sa.JSON, nullable=False),
        sa.Column("timings", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("process_start", sa.String(80), nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_training_runs_status", "training_runs", ["status"])
    op.create_index("ix_training_runs_key", "training_runs", ["key"])
    op.create_index("ix_training_runs_started_at", "training_runs", ["started_at"])
    op.create_table(
        "run_verifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("training_runs.id"), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("predictions_hash", sa.String(64), nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("differences", sa.JSON, nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.Column("checked_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_run_verifications_run_id", "run_verifications", ["run_id"])


def downgrade() -> None:
    op.drop_table("run_verifications")
    op.drop_table("training_runs")
    op.drop_table("feature_sets")
