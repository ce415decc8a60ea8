"""data: PII columns keep no values in stored schemas and profiles; snapshots say how
their PII is stored

Snapshots taken before this revision kept a PII column's top values (level counts),
levels and range in their schema and profile rows. Those values are removed here, in the
database rows where they live, leaving count, missing and distinct counts. The snapshot
data itself (Parquet artifacts) cannot be rewritten by a migration (that needs the hash
key and the artifact store): each such snapshot is marked ``pii_storage = 'raw'`` and
``stead data hash-pii`` rewrites them.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SNAPSHOTS = sa.table(
    "dataset_snapshots",
    sa.column("id", sa.String),
    sa.column("schema", sa.JSON),
    sa.column("profile", sa.JSON),
    sa.column("pii_storage", sa.String),
)
# What a PII column's profile may keep; everything else is a value or a statistic of them.
PROFILE_KEEPS = ("name", "kind", "count", "missing", "unique")


def upgrade() -> None:
    with op.batch_alter_table("dataset_snapshots") as batch:
        batch.add_column(sa.Column("pii_storage", sa.String(20), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(SNAPSHOTS.c.id, SNAPSHOTS.c.schema, SNAPSHOTS.c.profile))
    for snapshot_id, schema, profile in list(rows):
        pii = {c["name"] for c in schema["columns"] if "pii" in c.get("roles", [])}
        if not pii:
            continue
        connection.execute(
            sa.update(SNAPSHOTS)
            .where(SNAPSHOTS.c.id == snapshot_id)
            .values(
                schema=scrub_schema(schema, pii),
                profile=scrub_profile(profile, pii),
                pii_storage="raw",
            )
        )


def scrub_schema(schema: dict[str, Any], pii: set[str]) -> dict[str, Any]:
    columns = [
        {**c, "min": None, "max": None, "levels": None} if c["name"] in pii else c
        for c in schema["columns"]
    ]
    return {**schema, "columns": columns}


def scrub_profile(profile: dict[str, Any], pii: set[str]) -> dict[str, Any]:
    columns = [
        {k: v for k, v in c.items() if k in PROFILE_KEEPS} if c["name"] in pii else c
        for c in profile["columns"]
    ]
    return {**profile, "columns": columns}


def downgrade() -> None:
    # The removed values are gone by design; only the marker column is dropped.
    with op.batch_alter_table("dataset_snapshots") as batch:
        batch.drop_column("pii_storage")
