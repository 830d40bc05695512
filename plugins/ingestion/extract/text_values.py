"""Values that land as text: the one canonical text form of each text-carried type, and the lossless text of a
driver's Python value in a `string` column. Pure: pyarrow only.

A `string` column takes a value of another kind only through a text form that loses nothing and is the one the
source itself prints (a MariaDB TIME as `-838:59:59`, never Arrow's count of microseconds of a duration); a value
without one (bytes that are not UTF-8, an object of an unknown kind) does not fit, and the reader fails naming the
column, never the value.

Canonical forms of the text-carried logical types (config/column_types.TEXT_CARRIED):

- uuid: lower-case hex in 8-4-4-4-12 groups, `a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`
- interval: ISO 8601 duration as PostgreSQL writes it with `IntervalStyle = iso_8601`: years, months and days kept
  apart from the time (a month is not 30 days), each part signed, `P1Y2M-3DT4H5M6.5S`, zero as `PT0S`
- decimal: the exact decimal digits, `-12.500`, and `NaN`, `Infinity`, `-Infinity` (a PostgreSQL numeric may hold them)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Set
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

LOGICAL_KEY = b"logical_type"  # Arrow field metadata naming a text-carried column's logical type

PATTERNS = {
    "uuid": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    # RE2 (Arrow's regex engine) has no lookahead, so a bare "P" passes here; no reader writes one.
    "interval": r"^P(?:-?\d+Y)?(?:-?\d+M)?(?:-?\d+D)?(?:T(?:-?\d+H)?(?:-?\d+M)?(?:-?\d+(?:\.\d+)?S)?)?$",
    "decimal": r"^(?:-?\d+(?:\.\d+)?|NaN|-?Infinity)$",
}
MICROS_PER_DAY = 86_400_000_000


class NoLosslessText(ValueError):
    """A value with no lossless text form for its column; the message is its kind, never the value."""


def logical_of(field: pa.Field) -> str | None:
    """The text-carried logical type a field was declared with (extract/arrow_types.py puts it there), if any."""
    if field.metadata and LOGICAL_KEY in field.metadata:
        return field.metadata[LOGICAL_KEY].decode()
    return None


def _trunc_div(value: int, unit: int) -> tuple[int, int]:
    """Quotient and remainder truncated toward zero, as PostgreSQL's C arithmetic splits an interval."""
    quotient = abs(value) // unit * (1 if value >= 0 else -1)
    return quotient, value - quotient * unit


def iso_interval(months: int, days: int, micros: int) -> str:
    """An interval's canonical text (see the module docstring), the same as PostgreSQL's for the same parts."""
    years, months = _trunc_div(months, 12)
    hours, rest = _trunc_div(micros, 3_600_000_000)
    minutes, rest = _trunc_div(rest, 60_000_000)
    seconds, fraction = _trunc_div(rest, 1_000_000)
    if not any((years, months, days, hours, minutes, seconds, fraction)):
        return "PT0S"
    text = "P" + "".join(f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"), (days, "D")) if n)
    if hours or minutes or seconds or fraction:
        text += "T" + "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
        if seconds or fraction:
            sign = "-" if seconds < 0 or fraction < 0 else ""
            digits = f"{abs(seconds)}" + (f".{abs(fraction):06d}".rstrip("0") if fraction else "")
            text += f"{sign}{digits}S"
    return text


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def duration_text(delta: timedelta) -> str:
    """A MySQL/MariaDB TIME (a signed duration up to 838:59:59) as the server prints it: `-838:59:59`,
    `12:00:00.250000` (fractions only when there are any: the column's declared precision is not known here)."""
    micros = _micros(delta)
    sign, micros = ("-" if micros < 0 else ""), abs(micros)
    seconds, fraction = divmod(micros, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}" + (f".{fraction:06d}" if fraction else "")


def text_of(value: Any) -> str:
    """A driver's value as the lossless text a `string` column holds; raises NoLosslessText."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise NoLosslessText("bytes that are not UTF-8 text") from None
    if isinstance(value, Set):  # MySQL SET, when a driver returns one: members in a stable order
        return ",".join(sorted(text_of(v) for v in value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    raise NoLosslessText(f"a {type(value).__name__}")


def carried_text(value: Any, logical: str) -> str:
    """A driver's value as the canonical text of a text-carried type; raises NoLosslessText (an unchecked text is
    checked by `first_malformed` afterwards)."""
    if logical == "uuid" and isinstance(value, uuid.UUID | str):
        return str(value).lower()
    if logical == "interval" and isinstance(value, timedelta):
        return iso_interval(0, 0, _micros(value))  # a MySQL TIME: all of it in the time part, as PostgreSQL's cast
    if logical in ("decimal", "numeric") and isinstance(value, Decimal | int | str) and not isinstance(value, bool):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, str):
        return value
    raise NoLosslessText(f"a {type(value).__name__}")


def time_of_day(value: Any) -> Any:
    """A MySQL/MariaDB TIME (a timedelta) as a time of day, when it is one; anything else unchanged."""
    if isinstance(value, timedelta):
        micros = _micros(value)
        if not 0 <= micros < MICROS_PER_DAY:
            raise NoLosslessText("a duration that is not a time of day (negative, or 24 hours or more)")
        seconds, fraction = divmod(micros, 1_000_000)
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60, fraction)
    return value


def canonical(array: pa.Array, logical: str) -> pa.Array:
    """Text of a text-carried type in its canonical form (a UUID in lower case)."""
    return pc.utf8_lower(array) if logical == "uuid" else array


def first_malformed(array: pa.Array, logical: str) -> int | None:
    """The first row whose text is not the canonical form of `logical`, or None."""
    pattern = PATTERNS["decimal" if logical == "numeric" else logical]
    good = pc.fill_null(pc.match_substring_regex(array, pattern), True)
    if pc.all(good).as_py():
        return None
    return int(pc.index(good, False).as_py())


def first_beyond_day(array: pa.Array) -> int | None:
    """The first time64[us] value outside [00:00, 24:00) (PostgreSQL's `24:00:00`), or None: Arrow keeps it, but
    Parquet and every reader take a time of day to be less than a day."""
    micros = array.cast(pa.int64())
    bad = pc.fill_null(pc.or_(pc.less(micros, 0), pc.greater_equal(micros, MICROS_PER_DAY)), False)
    if not pc.any(bad).as_py():
        return None
    return int(pc.index(bad, True).as_py())
