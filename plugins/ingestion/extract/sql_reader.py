"""Stream a SQL statement's rows as Arrow record batches of the config's types, in bounded memory.

Uses SQLAlchemy's server-side cursors (`stream_results`), so the driver holds one batch at a time whatever the
table size, and builds each batch column-wise. Works for every dialect SQLAlchemy speaks; a faster Arrow-native
path per dialect can replace it where measured to matter (bench/). Zone-less timestamps (the driver's naive
datetimes) land in a zoned column as instants of the source's zone (`source_zone`, default UTC).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, Select

from ingestion.extract.arrow_types import localized
from ingestion.extract.errors import SchemaMismatchError
from ingestion.extract.misfit import (
    ARROW_ERRORS,
    first_misfit,
    first_out_of_range,
    misfit_error,
    out_of_range_kind,
    values_fit,
)
from ingestion.extract.source_zone import DEFAULT_ZONE
from ingestion.extract.text_values import (
    NoLosslessText,
    canonical,
    carried_text,
    first_malformed,
    logical_of,
    text_of,
    time_of_day,
)

DEFAULT_BATCH_ROWS = 50_000


def _zone_less(values: Any) -> bool:
    first = next((v for v in values if v is not None), None)
    return isinstance(first, datetime) and first.tzinfo is None


def _carried(values: Any, logical: str) -> pa.Array:
    """A text-carried column (uuid, interval, decimal) in its canonical text; a value that is not fails."""
    array = canonical(pa.array([None if v is None else carried_text(v, logical) for v in values], pa.string()), logical)
    if first_malformed(array, logical) is not None:
        raise pa.ArrowInvalid(f"not a {logical}")
    return array


def _convert(values: Any, field: pa.Field) -> pa.Array:
    try:
        if (logical := logical_of(field)) is not None:
            return _carried(values, logical)
        if pa.types.is_time(field.type):
            values = [None if v is None else time_of_day(v) for v in values]  # MySQL's TIME is a timedelta
        try:
            return pa.array(values, type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if pa.types.is_string(field.type):
                # Never Arrow's cast of an inferred type: a MySQL TIME (a duration) would become its count of
                # microseconds. The source's own text form, or no fit.
                return pa.array([None if v is None else text_of(v) for v in values], pa.string())
            # Drivers differ in the Python types they return (MySQL's BOOLEAN is TINYINT(1) and arrives as 0/1):
            # infer, then cast safely, so a value that does not fit still fails.
            return pa.array(values).cast(field.type, safe=True)
    except NoLosslessText as error:
        raise pa.ArrowInvalid(str(error)) from None


def _to_array(values: Any, field: pa.Field, source_zone: str = DEFAULT_ZONE, first_row: int = 0) -> pa.Array:
    """The column's values of one batch as its declared type; `first_row` is the batch's position in the read, for
    the error that names the row that does not fit (never its value: Arrow's own message quotes it)."""
    zoned = pa.types.is_timestamp(field.type) and field.type.tz is not None
    localize = zoned and source_zone != DEFAULT_ZONE and _zone_less(values)

    def convert(part: Any) -> pa.Array:
        if localize:  # Arrow would read the wall-clock digits as UTC: take them as the source zone's, then convert
            return localized(pa.array(part, type=pa.timestamp(field.type.unit)), field.type, source_zone)
        return _convert(part, field)

    try:
        array = convert(values)
    except ARROW_ERRORS:
        values = list(values)
        row = first_misfit(len(values), values_fit(values, convert))
        kind = type(values[row]).__name__ if row is not None else "source"
        if (logical := logical_of(field)) is not None:
            kind = f"{kind} (not a {logical})"
        raise misfit_error(field, None if row is None else first_row + row, kind) from None
    if (row := first_out_of_range(array)) is not None:  # 9999-12-31 23:00 behind UTC is in year 10000
        raise misfit_error(field, first_row + row, out_of_range_kind(field.type))
    return array


def read_batches(
    engine: Engine,
    statement: Select[Any],
    schema: pa.Schema,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    source_zone: str = DEFAULT_ZONE,
) -> Generator[pa.RecordBatch, None, None]:
    """The statement's rows on a connection of its own."""
    with engine.connect() as conn:
        yield from stream_batches(conn, statement, schema, batch_rows=batch_rows, source_zone=source_zone)


def stream_batches(
    conn: Connection,
    statement: Select[Any],
    schema: pa.Schema,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    source_zone: str = DEFAULT_ZONE,
) -> Generator[pa.RecordBatch, None, None]:
    """The statement's rows on `conn`, inside whatever transaction (snapshot) it has open."""
    result = conn.execution_options(stream_results=True, max_row_buffer=batch_rows).execute(statement)
    try:
        returned = list(result.keys())
        if returned != schema.names:
            raise SchemaMismatchError(f"query returned columns {returned}, the config declares {schema.names}")
        read = 0
        for rows in result.partitions(batch_rows):
            columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
            arrays = [
                _to_array(values, field, source_zone, read) for values, field in zip(columns, schema, strict=True)
            ]
            read += len(rows)
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    finally:
        # A server-side cursor must be closed before the connection goes back to the pool (MySQL refuses
        # any other command on a connection with an unread streaming result).
        result.close()
