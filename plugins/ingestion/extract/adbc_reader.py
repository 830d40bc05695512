"""Arrow-native streaming from PostgreSQL through ADBC (the libpq-based driver), for SQL entities on Postgres.

Why: SQLAlchemy's server-side cursor builds a Python object per value and caps near 0.15M rows/s on 2 cores; ADBC
runs the query as `COPY (...) TO STDOUT (FORMAT binary)` and decodes straight into Arrow batches at ~0.7M rows/s
with flat memory (bench/README.md). The statement is still built by SQLAlchemy Core, so identifiers are quoted for
the dialect.

One trade: ADBC streams only statements without bind parameters (with parameters it falls back to one
whole-result batch), so the window's bounds are rendered into the SQL by SQLAlchemy's PostgreSQL literal
renderer. That is done only for bounds whose type cannot carry SQL (timestamps, dates, integers); an entity with a
text cursor takes the bound-parameter reader instead (`usable_for`).

ADBC opens a libpq connection of its own. To read the same snapshot as the connection that counted the window,
it imports the snapshot that connection exported (`pg_export_snapshot()`, extract/snapshot_read.py) with
`SET TRANSACTION SNAPSHOT` in a REPEATABLE READ transaction, before its query.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingestion.extract.arrow_types import localized
from ingestion.extract.errors import SchemaMismatchError
from ingestion.extract.misfit import (
    ARROW_ERRORS,
    array_fits,
    first_misfit,
    first_out_of_range,
    misfit_error,
    out_of_range_kind,
)
from ingestion.extract.read_casts import INTERVAL_STYLE
from ingestion.extract.source_zone import DEFAULT_ZONE
from ingestion.extract.text_values import canonical, first_beyond_day, first_malformed, logical_of

if TYPE_CHECKING:
    from sqlalchemy import URL, Select

    from ingestion.extract.window import Window

# Size of each Arrow batch the driver hands over (its option is in bytes, not rows).
BATCH_BYTES = 16 * 1024 * 1024
_SAFE_BOUND_TYPES = (datetime, date, int)
# What pg_export_snapshot() returns, e.g. 00000004-00000124-1: checked before it goes into a statement.
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$")


def adbc_available() -> bool:
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


def usable_for(dialect_name: str, window: Window) -> bool:
    """ADBC is used for Postgres sources whose window bounds are safe to render as literals."""
    if dialect_name != "postgresql" or not adbc_available():
        return False
    bounds = [b for b in (window.low, window.high) if b is not None]
    return all(isinstance(b, _SAFE_BOUND_TYPES) and not isinstance(b, bool) for b in bounds)


def _conform(
    batch: pa.RecordBatch, schema: pa.Schema, source_zone: str = DEFAULT_ZONE, first_row: int = 0
) -> pa.RecordBatch:
    """The driver's batch as the config's types: numeric arrives as an opaque string extension type, integers and
    timestamps may be wider or narrower than declared, `timestamp without time zone` holds wall-clock times of the
    source's zone. A value that does not fit fails naming its column and row (`first_row` is the batch's position in
    the read), never the value: Arrow's own message quotes it."""
    arrays = []
    for column, field in zip(batch.columns, schema, strict=True):
        if isinstance(column.type, pa.ExtensionType) or isinstance(column, pa.ExtensionArray):
            column = column.storage
        column = localized(column, field.type, source_zone)
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except ARROW_ERRORS:
                row = first_misfit(len(column), array_fits(column, field.type))
                kind = str(column.type)
                raise misfit_error(field, None if row is None else first_row + row, kind) from None
        arrays.append(_checked(column, field, first_row))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _checked(column: pa.Array, field: pa.Field, first_row: int) -> pa.Array:
    """A text-carried column in its canonical form, a time within the day, a timestamp within years 1 to 9999;
    else the misfit error."""
    if (logical := logical_of(field)) is not None:
        column = canonical(column, logical)
        row = first_malformed(column, logical)
        kind = f"non-{logical} text"
    elif pa.types.is_time(field.type):
        row, kind = first_beyond_day(column), "end-of-day (or later) time"
    elif pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
        row, kind = first_out_of_range(column), out_of_range_kind(field.type)
    else:
        return column
    if row is not None:
        raise misfit_error(field, first_row + row, kind)
    return column


def read_batches_adbc(
    url: URL,
    statement: Select[Any],
    schema: pa.Schema,
    *,
    snapshot: str | None = None,
    source_zone: str = DEFAULT_ZONE,
) -> Generator[pa.RecordBatch, None, None]:
    """The statement's rows as Arrow batches; in the exported `snapshot` when one is given (its exporting
    transaction must stay open until this generator is closed)."""
    import adbc_driver_postgresql.dbapi as pg
    from sqlalchemy.dialects import postgresql

    # paramstyle "named": with psycopg's default (`%(name)s`) every `%` in a name or a literal is written `%%`, and
    # this driver sends the text as it is (every value is a literal here, so no parameter is left to mark).
    dialect = postgresql.dialect(paramstyle="named")
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
    # autocommit off: the driver opens a transaction at once, which the snapshot import needs to be the first
    # thing in.
    with pg.connect(uri, autocommit=False) as conn, conn.cursor() as cursor:
        if snapshot is not None:
            if not _SNAPSHOT_ID.match(snapshot):
                raise ValueError(f"not a snapshot id: {snapshot!r}")
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        cursor.execute(INTERVAL_STYLE)  # intervals as ISO 8601 text (extract/read_casts.py)
        cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)})
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
        returned = reader.schema.names
        if returned != schema.names:
            raise SchemaMismatchError(f"query returned columns {returned}, the config declares {schema.names}")
        read = 0
        for batch in reader:
            if batch.num_rows:
                yield _conform(batch, schema, source_zone, read)
                read += batch.num_rows
