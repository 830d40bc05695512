"""Boundary keys with their age: sets of runs that never commit (failed, abandoned, superseded) are not dropped by
the next runs, which drop only committed runs' sets, so control-DB retention deletes the sets older than its cutoff,
except the set of the run the watermark names. Rows there before this revision are dated now.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "ingest_boundary_key"


def upgrade() -> None:
    # Only if missing: a database made by `create_all` before migrations existed (recorded at its revision by
    # state.schema, judged by its table names) was made from tables.py, which declares the column too.
    if "recorded_at" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(TABLE)}:
        return
    # Nullable, and dated here rather than by a server default: SQLite cannot add a column with one.
    op.add_column(TABLE, sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True))
    keys = sa.table(TABLE, sa.column("recorded_at", sa.DateTime(timezone=True)))
    op.execute(keys.update().values(recorded_at=datetime.now(UTC)))


def downgrade() -> None:
    op.drop_column(TABLE, "recorded_at")
