"""Count a window and read it in one consistent snapshot of the source, so reconciliation compares like with like.

A live table changes while a run reads it; counting the window later (at validate) counts another table: rows
inserted since make a full load fail, rows updated out of an incremental window too. Here the count and the read
see the same committed data:

- PostgreSQL: one REPEATABLE READ transaction. The count runs in it; so does the read, on the same connection
  (server-side cursor), or through ADBC on a libpq connection of its own that imports the snapshot this one exports
  (`pg_export_snapshot()`, valid while this transaction stays open, which it does until the read is closed).
- MySQL / MariaDB (InnoDB): `START TRANSACTION WITH CONSISTENT SNAPSHOT` at REPEATABLE READ, on the connection that
  then streams.
- Other dialects: no snapshot here. The read runs as before and `counted` stays None; validate then counts the
  window at the source, so rows that change in between fail reconciliation (a documented caveat).

The window's high bound (max cursor) is read just before the snapshot begins (pipeline.sources.sql_source):
every row at or below it committed by then is in the snapshot, so the window is complete as of the snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from ingestion.extract.read_casts import INTERVAL_STYLE
from ingestion.extract.source_zone import DEFAULT_ZONE
from ingestion.extract.sql_reader import DEFAULT_BATCH_ROWS

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine, Select

log = logging.getLogger(__name__)

POSTGRES = "postgresql"
MYSQL_FAMILY = frozenset({"mysql", "mariadb"})
SNAPSHOT_DIALECTS = frozenset({POSTGRES, *MYSQL_FAMILY})


class WindowRead:
    """One window's count and rows. Iterate `batches()` to the end (or close it); `counted` is then the window's row
    count in the read's snapshot, or None where the dialect has no snapshot here."""

    def __init__(
        self,
        engine: Engine,
        statement: Select[Any],
        count_statement: Select[Any],
        schema: pa.Schema,
        *,
        use_adbc: bool,
        source_zone: str = DEFAULT_ZONE,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        self.engine = engine
        self.statement = statement
        self.count_statement = count_statement
        self.schema = schema
        self.use_adbc = use_adbc
        self.source_zone = source_zone
        self.batch_rows = batch_rows
        self.counted: int | None = None

    @property
    def consistent(self) -> bool:
        return self.engine.dialect.name in SNAPSHOT_DIALECTS

    def batches(self) -> Generator[pa.RecordBatch, None, None]:
        if not self.consistent:
            yield from self._unsnapshotted()
            return
        from sqlalchemy import text

        from ingestion.extract.adbc_reader import read_batches_adbc
        from ingestion.extract.sql_reader import stream_batches

        dialect = self.engine.dialect.name
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            try:
                if dialect in MYSQL_FAMILY:
                    conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                if dialect == POSTGRES:
                    conn.exec_driver_sql(INTERVAL_STYLE)  # intervals as ISO 8601 text (extract/read_casts.py)
                # Postgres takes the transaction's snapshot at its first statement, which is one of these.
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one() if self.use_adbc else None
                self.counted = int(conn.execute(self.count_statement).scalar_one())
                log.info("window counted in the read's snapshot: %d row(s)", self.counted)
                if self.use_adbc:
                    yield from read_batches_adbc(
                        self.engine.url, self.statement, self.schema, snapshot=snapshot, source_zone=self.source_zone
                    )
                else:
                    yield from stream_batches(
                        conn, self.statement, self.schema, batch_rows=self.batch_rows, source_zone=self.source_zone
                    )
            finally:
                conn.rollback()  # read only: nothing to keep, and the snapshot (with its exported id) ends here

    def _unsnapshotted(self) -> Generator[pa.RecordBatch, None, None]:
        from ingestion.extract.adbc_reader import read_batches_adbc
        from ingestion.extract.sql_reader import read_batches

        dialect = self.engine.dialect.name
        log.info("%s has no consistent snapshot here: validate counts the window at the source", dialect)
        if self.use_adbc:
            yield from read_batches_adbc(self.engine.url, self.statement, self.schema, source_zone=self.source_zone)
        else:
            yield from read_batches(
                self.engine, self.statement, self.schema, batch_rows=self.batch_rows, source_zone=self.source_zone
            )
