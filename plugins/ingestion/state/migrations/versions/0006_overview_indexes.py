"""Indexes for what `ingest status` and the Ingestion view read: each entity's latest run and latest checked run in
one index step, its watermark changes newest first, and the alerts of the last days.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_ingest_entity_run_latest", "ingest_entity_run", ["source", "entity", "id"]),
    ("ix_ingest_check_result_latest", "ingest_check_result", ["source", "entity", "id"]),
    ("ix_ingest_watermark_history_entity", "ingest_watermark_history", ["source", "entity", "id"]),
    ("ix_ingest_alert_created", "ingest_alert", ["created_at"]),
)


def upgrade() -> None:
    # if_not_exists: a database made by `create_all` before migrations existed (recorded at its revision by
    # state.schema) was made from tables.py, which declares these indexes too.
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table, if_exists=True)
