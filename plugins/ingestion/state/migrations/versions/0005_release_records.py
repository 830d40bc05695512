"""Release records: one row per deployment (scripts/deploy.sh), with the config diff it shipped and its outcome.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_release",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("environment", sa.String(32), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("version", sa.String(250), nullable=False),
        sa.Column("commit_sha", sa.String(64), nullable=True),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deployed_by", sa.String(250), nullable=False),
        sa.Column("approved_by", sa.String(250), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("configs", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_ingest_release_environment", "ingest_release", ["environment", "status", "started_at"])


def downgrade() -> None:
    op.drop_table("ingest_release")
