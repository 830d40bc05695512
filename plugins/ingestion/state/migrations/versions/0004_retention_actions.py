"""Retention actions: every partition of the landing zone that retention archived or deleted, and every batch of
control DB rows it deleted: when, why, how many blobs or rows, how many bytes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_retention_action",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("retention_run", sa.String(250), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("container", sa.String(63), nullable=False),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("partition_day", sa.String(10), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_ingest_retention_action_entity", "ingest_retention_action", ["source", "entity", "partition_day"]
    )


def downgrade() -> None:
    op.drop_table("ingest_retention_action")
