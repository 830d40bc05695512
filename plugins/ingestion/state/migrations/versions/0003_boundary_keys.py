"""Boundary keys: the primary keys of the rows an incremental run landed at the cursor value it moves the watermark
to, so the next run can read that value inclusively and leave them out.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_boundary_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("cursor_value", sa.Text(), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
    )
    op.create_index("ix_ingest_boundary_key_run", "ingest_boundary_key", ["source", "entity", "run_id"])


def downgrade() -> None:
    op.drop_table("ingest_boundary_key")
