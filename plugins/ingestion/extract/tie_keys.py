"""Rows of a batch at one cursor value, and their primary keys as stable texts. Pure: pyarrow only.

Used to leave out the rows tied with the watermark that an earlier run already landed, and to remember the ones a
run lands at its new high value (pipeline/boundary_ties.py). A key's text is the JSON array of its column values as
landed in the general zone (a hashed PII key column as its hash), so the same row gives the same text in every run.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.extract.source_zone import DEFAULT_ZONE, wall_clock


def cursor_scalar(value: Any, arrow_type: pa.DataType, cursor_zone: str | None) -> pa.Scalar | None:
    """`value` (a watermark: an aware UTC datetime, an int or text) as a scalar of the landed cursor column's type,
    or None when it does not convert (then no row is taken to be at it)."""
    if isinstance(value, datetime) and pa.types.is_timestamp(arrow_type) and arrow_type.tz is None:
        value = wall_clock(value, cursor_zone or DEFAULT_ZONE)  # a zone-less cursor lands as wall-clock times
    try:
        return pa.scalar(value, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        try:
            return pa.scalar(value).cast(arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            return None


def rows_at(batch: pa.RecordBatch, cursor: str, value: Any, cursor_zone: str | None) -> pa.BooleanArray:
    """True for the rows whose cursor equals `value` (never for NULL cursors)."""
    column = batch.column(cursor)
    scalar = cursor_scalar(value, column.type, cursor_zone)
    if scalar is None:
        return pa.array([False] * batch.num_rows, pa.bool_())
    return pc.fill_null(pc.equal(column, scalar), False)


def count_true(mask: pa.BooleanArray) -> int:
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


def key_texts(keys: pa.RecordBatch) -> list[str | None]:
    """One text per row of a batch of key columns (as landed); None for a row whose key holds a null. A null tells
    no row from another (a view's key column may hold several), so such a row is never taken for one published."""
    columns = [column.to_pylist() for column in keys.columns]
    rows = zip(*columns, strict=True)
    return [
        None if None in values else json.dumps(list(values), default=_text, ensure_ascii=False, separators=(",", ":"))
        for values in rows
    ]


def without(batch: pa.RecordBatch, mask: pa.BooleanArray, drop: list[bool]) -> pa.RecordBatch:
    """The batch less the rows where `mask` is true and `drop` (one flag per such row, in order) says so."""
    dropped = pc.replace_with_mask(mask, mask, pa.array(drop, pa.bool_()))
    return batch.filter(pc.invert(dropped))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # datetime, date, Decimal: their canonical text for the landed type
