"""Stream a SQL statement's rows as Arrow record batches of the config's types, in bounded memory.

Uses SQLAlchemy's server-side cursors (`stream_results`), so the driver holds one batch at a time whatever the
table size, and builds each batch column-wise. Works for every dialect SQLAlchemy speaks; a faster Arrow-native
path per dialect can replace it where measured to matter (bench/).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, Select

DEFAULT_BATCH_ROWS = 50_000


class SchemaMismatchError(ValueError):
    """The query returned different columns from the ones the config declares."""


def _to_array(values: Any, field: pa.Field) -> pa.Array:
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Drivers differ in the Python types they return (MySQL's BOOLEAN is TINYINT(1) and arrives as 0/1):
        # infer, then cast safely, so a value that does not fit still fails, naming the column.
        try:
            return pa.array(values).cast(field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise SchemaMismatchError(f"column {field.name!r}: values do not fit {field.type}: {exc}") from exc


def read_batches(
    engine: Engine, statement: Select[Any], schema: pa.Schema, *, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Generator[pa.RecordBatch, None, None]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=batch_rows).execute(statement)
        try:
            returned = list(result.keys())
            if returned != schema.names:
                raise SchemaMismatchError(f"query returned columns {returned}, the config declares {schema.names}")
            for rows in result.partitions(batch_rows):
                columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
                arrays = [_to_array(values, field) for values, field in zip(columns, schema, strict=True)]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
        finally:
            # A server-side cursor must be closed before the connection goes back to the pool (MySQL refuses
            # any other command on a connection with an unread streaming result).
            result.close()
