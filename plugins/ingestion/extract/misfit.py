"""Say which row of a column does not fit its declared type, without quoting the value. Pure: pyarrow only.

Arrow's conversion and cast errors quote the offending value ("Could not convert 'ana@example.com' with type str",
"Failed to parse string: '...'"), and that text would reach task logs, failure alerts and the control DB: a personal
e-mail or phone number in a column declared `integer` is exactly the value that must not travel. The readers raise
`misfit_error` instead: the column, the declared type, the row's position in the read and what kind of value it
holds. Finding the row is a binary search over prefixes (a prefix that fits stays fitting when shortened), so it
costs a few conversions of the batch, and only when the batch already failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from ingestion.extract.errors import SchemaMismatchError

ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)

# What a landed timestamp may hold: 0001-01-01T00:00:00 .. 9999-12-31T23:59:59.999999 (UTC for a zoned one), in
# microseconds since the epoch. Arrow holds more (Postgres infinity, BC dates, 9999-12-31 23:00 of a zone behind
# UTC); Python, Parquet readers and the JSON messages do not.
OUT_OF_RANGE_KIND = "timestamp (outside years 1 to 9999 in UTC)"
_FIRST_MICROSECOND = -62_135_596_800_000_000
_LAST_MICROSECOND = 253_402_300_799_999_999
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
# The same years for a date, in days since the epoch: 0001-01-01 .. 9999-12-31.
_FIRST_DAY = -719_162
_LAST_DAY = 2_932_896
_MS_PER_DAY = 86_400_000


def first_misfit(count: int, fits: Callable[[int], bool]) -> int | None:
    """The index of the first row for which `fits(n)` (do the first n rows convert?) turns false, or None."""
    if fits(count):
        return None
    low, high = 0, count  # the first `low` rows fit; the first `high` do not
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return high - 1


def values_fit(values: Sequence[Any], convert: Callable[[Sequence[Any]], pa.Array]) -> Callable[[int], bool]:
    """A `fits` for Python values converted by `convert` (the reader's own conversion)."""

    def fits(count: int) -> bool:
        try:
            convert(values[:count])
        except ARROW_ERRORS:
            return False
        return True

    return fits


def array_fits(array: pa.Array, target: pa.DataType) -> Callable[[int], bool]:
    """A `fits` for an Arrow array cast safely to `target`."""

    def fits(count: int) -> bool:
        try:
            array.slice(0, count).cast(target, safe=True)
        except ARROW_ERRORS:
            return False
        return True

    return fits


def out_of_range_kind(type_: pa.DataType) -> str:
    """What `first_out_of_range` found, for the misfit error: a timestamp or a date outside years 1 to 9999."""
    return OUT_OF_RANGE_KIND if pa.types.is_timestamp(type_) else "date (outside years 1 to 9999)"


def first_out_of_range(array: pa.Array) -> int | None:
    """The index of the first timestamp or date of `array` outside years 1 to 9999, or None (also for other
    types)."""
    import pyarrow.compute as pc

    if pa.types.is_date32(array.type):  # Postgres infinity (int32's ends) and BC dates fit date32, no `date`
        ticks, low, high = array.cast(pa.int32()), _FIRST_DAY, _LAST_DAY
    elif pa.types.is_date64(array.type):
        ticks, low, high = array.cast(pa.int64()), _FIRST_DAY * _MS_PER_DAY, (_LAST_DAY + 1) * _MS_PER_DAY - 1
    elif pa.types.is_timestamp(array.type) and array.type.unit != "ns":  # nanoseconds span 1677..2262 only
        scale = 1_000_000 // _PER_SECOND[array.type.unit]
        ticks, low, high = array.cast(pa.int64()), _FIRST_MICROSECOND // scale, _LAST_MICROSECOND // scale
    else:
        return None
    outside = pc.or_(pc.less(ticks, low), pc.greater(ticks, high))
    index = pc.index(pc.fill_null(outside, False), True).as_py()
    return None if index < 0 else index


def misfit_error(field: pa.Field, row: int | None, kind: str) -> SchemaMismatchError:
    """The error for a value of `field` that does not fit: `row` is its 0-based position in the read (None when it
    could not be found), `kind` what the source sent (a type name, never the value)."""
    where = f"row {row + 1} of the read" if row is not None else "a row of the batch"
    return SchemaMismatchError(
        f"column {field.name!r}: {where} holds a {kind} value that does not fit {field.type} "
        "(the value is not shown: it may be personal data); check the column's declared type"
    )
