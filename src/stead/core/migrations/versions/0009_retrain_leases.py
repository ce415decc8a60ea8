"""retraining: a claim on a retrain trigger is a lease (holder, process, expiry)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from stead.core.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = (
    ("lease_id", sa.String(40)),
    ("claimed_by", sa.String(200)),
    ("claimed_at", UTCDateTime),
    ("lease_host", sa.String(255)),
    ("lease_pid", sa.Integer),
    ("lease_process_start", sa.String(80)),
    ("lease_until", UTCDateTime),
)


def upgrade() -> None:
    # batch mode: SQLite cannot add columns with constraints in place; harmless elsewhere.
    with op.batch_alter_table("retrain_triggers") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.add_column(sa.Column("claims", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("retrain_triggers") as batch:
        batch.drop_column("claims")
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
