"""The control tables exactly as released before schema migrations existed (plugins/ingestion/state/tables.py at the
last release, verbatim but for this docstring): the migration tests make a database with them, as every open of the
control store used to (`metadata.create_all`), and upgrade it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# The live high mark per source and entity. `value` is text with its `value_type` beside it, so timestamps,
# integers and file cursors share one table; NULL means "no watermark": the next run loads everything.
watermarks = Table(
    "ingest_watermark",
    metadata,
    Column("source", String(63), primary_key=True),
    Column("entity", String(63), primary_key=True),
    Column("value", Text, nullable=True),
    Column("value_type", String(16), nullable=False, default="timestamp"),
    Column("run_id", String(250), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every change of a watermark, by a run's commit or by a person through the CLI, with the reason.
watermark_history = Table(
    "ingest_watermark_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(63), nullable=False, index=True),
    Column("entity", String(63), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("value_type", String(16), nullable=False),
    Column("run_id", String(250), nullable=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(250), nullable=False),
    Column("reason", Text, nullable=False),
)

# One row per committed entity run: what it read, landed and published, how long each stage took.
entity_runs = Table(
    "ingest_entity_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("dag_id", String(250), nullable=False),
    Column("try_number", Integer, nullable=False, default=1),
    Column("load_mode", String(16), nullable=False),
    Column("window_start", Text, nullable=True),
    Column("window_end", Text, nullable=True),
    Column("rows_extracted", BigInteger, nullable=False, default=0),
    Column("rows_landed", BigInteger, nullable=False, default=0),
    Column("rows_published", BigInteger, nullable=False, default=0),
    Column("bytes_landed", BigInteger, nullable=False, default=0),
    Column("seconds_extract_land", Float, nullable=True),
    Column("seconds_validate", Float, nullable=True),
    Column("seconds_publish", Float, nullable=True),
    Column("files", JSON, nullable=False, default=list),
    Column("check_results", JSON, nullable=False, default=list),
    Column("moved_watermark", Boolean, nullable=False, default=False),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "entity", "run_id", name="uq_ingest_entity_run"),
)

# One row per check per validate attempt, passed or not, so failed runs (which never commit) keep their results.
check_results = Table(
    "ingest_check_result",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("try_number", Integer, nullable=False, default=1),
    Column("check_name", String(250), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("observed", JSON, nullable=False, default=dict),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Index("ix_ingest_check_result_run", "source", "entity", "run_id"),
)

# Every alert the platform meant to send, per channel, and what became of it: sent, held (de-duplicated, throttled
# or routed to the digest), failed, or digested (summarised in a later digest post). De-duplication, throttling,
# digests and escalation all read it, so they hold across task processes.
alerts = Table(
    "ingest_alert",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(500), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=True),
    Column("channel", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(32), nullable=True),
    Column("alert", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ingest_alert_channel_time", "channel", "created_at"),
    Index("ix_ingest_alert_source", "source", "entity", "kind"),
)

# Files of file sources (SFTP) that committed runs loaded: (name, mtime) per source and entity. A file is loaded
# again only when its mtime is newer than the latest recorded for its name. Written in commit's transaction.
processed_files = Table(
    "ingest_processed_file",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=False),
    Column("file_name", String(1000), nullable=False),
    Column("mtime", DateTime(timezone=True), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("run_id", String(250), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    Index("ix_ingest_processed_file_name", "source", "entity", "file_name"),
)
