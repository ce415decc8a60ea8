"""monitoring: results per window and signal, decisions, alerts, deliveries, triggers

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(20), nullable=False),
        sa.Column("window_key", sa.String(80), nullable=False),
        sa.Column("window_kind", sa.String(10), nullable=False),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("window_index", sa.Integer, nullable=True),
        sa.Column("cursor", sa.String(200), nullable=True),
        sa.Column("signal", sa.String(40), nullable=False),
        sa.Column("layer", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("final", sa.Boolean, nullable=False),
        sa.Column("model_version", sa.String(220), nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evaluated_at", UTCDateTime, nullable=False),
        sa.Column("evaluated_by", sa.String(200), nullable=False),
    )
    op.create_index(
        "ix_monitor_results_window", "monitor_results", ["endpoint", "spec", "window_start"]
    )
    op.create_index(
        "ix_monitor_results_signal",
        "monitor_results",
        ["endpoint", "spec", "window_key", "signal"],
    )
    op.create_table(
        "monitor_decisions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("spec", sa.String(20), nullable=False),
        sa.Column("window_key", sa.String(80), nullable=False),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("window_end", UTCDateTime, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("alert_id", sa.String(40), nullable=True),
        sa.Column("trigger_id", sa.String(40), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index(
        "ix_monitor_decisions_window", "monitor_decisions", ["endpoint", "window_start"]
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("signal", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("window_key", sa.String(80), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("test", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_alerts_endpoint_created", "alerts", ["endpoint", "created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("alert_id", sa.String(40), nullable=False),
        sa.Column("sink", sa.String(200), nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_table(
        "retrain_triggers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("window_key", sa.String(80), nullable=True),
        sa.Column("window_start", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("processed_at", UTCDateTime, nullable=True),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_retrain_triggers_endpoint", "retrain_triggers", ["endpoint", "created_at"])
    op.create_table(
        "monitor_references",
        sa.Column("version_id", sa.String(40), primary_key=True),
        sa.Column("model_version", sa.String(220), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("monitor_references")
    op.drop_table("retrain_triggers")
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("monitor_decisions")
    op.drop_table("monitor_results")
