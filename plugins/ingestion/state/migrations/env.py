"""Alembic's environment for the control database. ingestion.state.schema runs it (there is no alembic.ini) on the
connection it hands over in `config.attributes["connection"]`, inside that connection's transaction: the caller has
taken the migration lock and commits, so these migrations never commit on their own."""

from __future__ import annotations

from alembic import context

from ingestion.state.schema import VERSION_TABLE, include_name
from ingestion.state.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "the control database's migrations run through `scripts/ingest db upgrade` (ingestion.state.schema), on a "
        "live connection"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,
    # SQLite alters a table by copying it; later revisions that change a column need this there.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
