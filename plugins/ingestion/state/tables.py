"""Tables of the control database. SQLAlchemy Core, so the same code runs on Postgres and on embedded SQLite."""

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
    # An entity's changes, newest first (the Ingestion view's history).
    Index("ix_ingest_watermark_history_entity", "source", "entity", "id"),
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
    # An entity's latest run in one index step, however long its history (state/overview.py).
    Index("ix_ingest_entity_run_latest", "source", "entity", "id"),
)

# One row per entity run whose publish began: which landing it publishes (the manifest's landing_id), the watermark
# window it covers, and, once the Kafka transaction committed, how many messages. Written before the transaction
# begins, so a run with a row here may have published: its landing is frozen (extract_land re-uses it, never lands
# again), and a later run of the entity must not read its window again until it commits (see pipeline/frozen_run).
publishes = Table(
    "ingest_publish",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("landing_id", String(64), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("topic", String(250), nullable=False),
    Column("moves_watermark", Boolean, nullable=False),
    Column("watermark_from", Text, nullable=True),
    Column("watermark_to", Text, nullable=True),
    Column("watermark_type", String(16), nullable=True),
    Column("rows", BigInteger, nullable=True),  # NULL until the transaction is known to have committed
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("source", "entity", "run_id", name="uq_ingest_publish"),
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
    Index("ix_ingest_check_result_latest", "source", "entity", "id"),
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
    Index("ix_ingest_alert_created", "created_at"),  # the open alerts of every entity (state/overview.py)
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

# The primary keys (as landed in the general zone: PII key columns hashed, never raw) of the rows an incremental run
# landed with the cursor value it moves the watermark to. The next run reads the watermark's value inclusively and
# leaves these rows out, so rows committed later with the same value are read and the ones published are not sent
# again (pipeline/boundary_ties.py). Written by extract_land under its run id; trusted only for the run the live
# watermark names, at the value it holds.
boundary_keys = Table(
    "ingest_boundary_key",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("cursor_value", Text, nullable=False),
    Column("row_key", Text, nullable=False),
    Column("part", Integer, nullable=True),  # the partition that recorded the key (load.partitions), else NULL
    Column("recorded_at", DateTime(timezone=True), nullable=True),  # control-DB retention ages sets by it
    Index("ix_ingest_boundary_key_run", "source", "entity", "run_id"),
)

# Every change retention made: one row per partition of the landing zone archived or deleted (with its bytes), and
# one per control DB table and entity it deleted rows of (zone `control_db`, location the table), with why, under
# the retention run that did it (`ingest_retention` or `scripts/ingest retention --apply`).
retention_actions = Table(
    "ingest_retention_action",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("retention_run", String(250), nullable=False),
    Column("action", String(16), nullable=False),
    Column("zone", String(16), nullable=False),
    Column("container", String(63), nullable=False),
    Column("source", String(63), nullable=False),
    Column("entity", String(63), nullable=False),
    Column("partition_day", String(10), nullable=False),
    Column("location", Text, nullable=False),
    Column("items", Integer, nullable=False),  # blobs changed, or control DB rows deleted
    Column("bytes", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("acted_at", DateTime(timezone=True), nullable=False),
    Index("ix_ingest_retention_action_entity", "source", "entity", "partition_day"),
)

# Every deployment (scripts/deploy.sh): what was deployed where, when, by whom and with whose approval, what it changed
# in the merged source configs, and how it ended (`deploying`, then `deployed`, `rolled_back` or `failed`).
# `configs` holds the release's merged configs (no credentials: the loader refuses them), so the next deployment to
# the same environment diffs against what is really running there.
releases = Table(
    "ingest_release",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("environment", String(32), nullable=False),
    Column("target", String(16), nullable=False),
    Column("version", String(250), nullable=False),
    Column("commit_sha", String(64), nullable=True),
    Column("image", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("deployed_by", String(250), nullable=False),
    Column("approved_by", String(250), nullable=True),
    Column("changes", JSON, nullable=False),
    Column("configs", JSON, nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_ingest_release_environment", "environment", "status", "started_at"),
)
