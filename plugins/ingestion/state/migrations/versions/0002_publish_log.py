"""The publish log: one row per entity run whose publish began (its landing, its watermark window, and the count once
its Kafka transaction committed), so a run that may have published is frozen.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_publish",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("landing_id", sa.String(64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("topic", sa.String(250), nullable=False),
        sa.Column("moves_watermark", sa.Boolean(), nullable=False),
        sa.Column("watermark_from", sa.Text(), nullable=True),
        sa.Column("watermark_to", sa.Text(), nullable=True),
        sa.Column("watermark_type", sa.String(16), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("source", "entity", "run_id", name="uq_ingest_publish"),
    )


def downgrade() -> None:
    op.drop_table("ingest_publish")
