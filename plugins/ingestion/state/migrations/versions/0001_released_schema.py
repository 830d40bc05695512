"""The control database as released before migrations existed: watermarks and their history, entity runs, check
results, alerts and processed files. Written out here, never imported from tables.py, so it stays what was released.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_watermark",
        sa.Column("source", sa.String(63), primary_key=True),
        sa.Column("entity", sa.String(63), primary_key=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("value_type", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ingest_watermark_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("value_type", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(250), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_ingest_watermark_history_source", "ingest_watermark_history", ["source"])
    op.create_table(
        "ingest_entity_run",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("load_mode", sa.String(16), nullable=False),
        sa.Column("window_start", sa.Text(), nullable=True),
        sa.Column("window_end", sa.Text(), nullable=True),
        sa.Column("rows_extracted", sa.BigInteger(), nullable=False),
        sa.Column("rows_landed", sa.BigInteger(), nullable=False),
        sa.Column("rows_published", sa.BigInteger(), nullable=False),
        sa.Column("bytes_landed", sa.BigInteger(), nullable=False),
        sa.Column("seconds_extract_land", sa.Float(), nullable=True),
        sa.Column("seconds_validate", sa.Float(), nullable=True),
        sa.Column("seconds_publish", sa.Float(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("check_results", sa.JSON(), nullable=False),
        sa.Column("moved_watermark", sa.Boolean(), nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "entity", "run_id", name="uq_ingest_entity_run"),
    )
    op.create_table(
        "ingest_check_result",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("check_name", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("observed", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ingest_check_result_run", "ingest_check_result", ["source", "entity", "run_id"])
    op.create_table(
        "ingest_alert",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=True),
        sa.Column("channel", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("alert", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ingest_alert_channel_time", "ingest_alert", ["channel", "created_at"])
    op.create_index("ix_ingest_alert_source", "ingest_alert", ["source", "entity", "kind"])
    op.create_table(
        "ingest_processed_file",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(63), nullable=False),
        sa.Column("file_name", sa.String(1000), nullable=False),
        sa.Column("mtime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ingest_processed_file_name", "ingest_processed_file", ["source", "entity", "file_name"])


def downgrade() -> None:
    for table in (
        "ingest_processed_file",
        "ingest_alert",
        "ingest_check_result",
        "ingest_entity_run",
        "ingest_watermark_history",
        "ingest_watermark",
    ):
        op.drop_table(table)
