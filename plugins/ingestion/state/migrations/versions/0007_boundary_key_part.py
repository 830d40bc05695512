"""Boundary keys per partition: an incremental entity read in partitions (load.partitions) records the keys at its
new high value from each partition's task, and a retried partition must drop only its own share of the run's set.
NULL for a run read in one task.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE = "ingest_boundary_key"


def upgrade() -> None:
    # Only if missing: a database made by `create_all` before migrations existed (recorded at its revision by
    # state.schema, judged by its table names) was made from tables.py, which declares the column too.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(TABLE)}
    if "part" not in columns:
        op.add_column(TABLE, sa.Column("part", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column(TABLE, "part")
