"""Landed Arrow batches as Kafka message values (JSON objects) and keys, built column-wise in Arrow compute.

Per-row encoding from Python objects caps near 0.1M rows/s (building a datetime/Decimal per cell is the cost);
building each column's JSON text with Arrow kernels and joining the columns element-wise runs at about 1M rows/s.
Each pass over a column costs, so the quotes (and a timestamp's "Z") of a column without nulls are written by the row
join itself rather than by a pass of their own (a third less encoding time, bench/README.md).

The encoding (also in README "Kafka messages"), chosen so no value loses anything on the way:

- smallint, integer, bigint: number (a bigint beyond 2^53 is exact text; JavaScript readers should use BigInt)
- decimal(p,s): string with exactly s decimals, e.g. "12.50" (a float would round)
- float, double: number in shortest round-trip form; NaN and +-Infinity become null (JSON has neither)
- boolean: true / false
- timestamp, timestamptz: string, ISO 8601 in UTC with microseconds, "2026-01-02T03:04:05.123456Z"
- timestamp_ntz: string, ISO 8601 without zone, "2026-01-02T03:04:05.123456"
- date: string, "2026-01-02"
- time: string, "HH:MM:SS.ffffff", "23:59:59.999999"
- string, text, json: string (a json column stays text; consumers parse it; an array is JSON text "[1,null]")
- uuid, interval, decimal: string in their canonical text (extract/text_values.py): "a0eebc99-9c0b-...",
  "P1Y2M-3DT4H5M6.5S", "-12.500"
- binary: string, base64
- NULL: null

Keys: one key column gives its value as plain text (a string as is, a number or timestamp as above, unquoted);
several give a JSON array of their JSON values, e.g. `[42,"EU"]`. No key columns: no key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.publish.errors import UnsupportedJsonTypeError

# JSON must escape the quote, the backslash and the control characters U+0000-U+001F.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'
_CONTROL_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NULL = pa.scalar("null", pa.string())


def _quoted(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', text, '"', "")


def _escaped_string(values: pa.Array) -> pa.Array:
    """A JSON string literal per value (null stays null)."""
    return _quoted(_string_body(values))


def _string_body(values: pa.Array) -> pa.Array:
    """A JSON string literal per value without its quotes (null stays null)."""
    values = values.cast(pa.string())
    if pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py():
        # Rare in practice; the order matters: backslashes first, or the later escapes would be doubled.
        values = pc.replace_substring(values, "\\", "\\\\")
        values = pc.replace_substring(values, '"', '\\"')
        for char, escape in _CONTROL_ESCAPES.items():
            values = pc.replace_substring(values, char, escape)
        if pc.any(pc.match_substring_regex(values, r"[\x00-\x1f]")).as_py():
            for code in range(0x20):
                if chr(code) not in _CONTROL_ESCAPES:
                    values = pc.replace_substring(values, chr(code), f"\\u{code:04x}")
    return values


def _timestamp_text(values: pa.Array) -> pa.Array:
    text = _timestamp_wall_text(values)
    return text if values.type.tz is None else pc.binary_join_element_wise(text, "Z", "")


def _timestamp_wall_text(values: pa.Array) -> pa.Array:
    """ISO 8601 without the zone designator; UTC wall time for a zoned timestamp."""
    # Arrow stores zoned timestamps as UTC instants, so dropping the zone is metadata only and keeps the UTC wall
    # time; casting a zoned array to string directly goes through the tz database and is ~20x slower.
    naive = values.cast(pa.timestamp("us", tz=values.type.tz)).cast(pa.timestamp("us"))
    # "2026-01-02 03:04:05.123456" -> ISO 8601 "2026-01-02T03:04:05.123456" (pc.strftime is slower still).
    return pc.utf8_replace_slice(naive.cast(pa.string()), start=10, stop=11, replacement="T")


def _time_text(values: pa.Array) -> pa.Array:
    return values.cast(pa.time64("us")).cast(pa.string())  # "23:59:59.999999", always six decimals


def _decimal_text(values: pa.Array) -> pa.Array:
    """Exactly `scale` decimals, never an exponent: Arrow writes 0 and values below about 1e-6 as "0E-10", "1E-10"."""
    text = values.cast(pa.string())
    exponent = pc.fill_null(pc.match_substring(text, "E"), False)
    if not pc.any(exponent).as_py():
        return text
    plain = pa.array([None if v is None else format(v, "f") for v in values.to_pylist()], pa.string())
    return pc.if_else(exponent, plain, text)


def _float_text(values: pa.Array) -> pa.Array:
    finite = pc.is_finite(values)
    return pc.if_else(finite, values.cast(pa.string()), pa.scalar(None, pa.string()))


def _base64(values: pa.Array) -> pa.Array:
    # No Arrow kernel for base64; binary columns are rare, so Python per value is acceptable here.
    return pa.array(
        [None if v is None else base64.b64encode(v).decode("ascii") for v in values.to_pylist()], pa.string()
    )


def _json_pieces(values: pa.Array) -> tuple[str, pa.Array, str]:
    """Each value's JSON text as (text before, the value's own text, text after), the same before and after for
    every value, e.g. ('"', 2026-01-02T03:04:05.000000, 'Z"'); a null value is a null in the middle. Apart so that
    the row join can write the affixes of a column without nulls (encode_values)."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return '"', _string_body(values), '"'
    if pa.types.is_integer(kind):
        return "", values.cast(pa.string()), ""
    if pa.types.is_floating(kind):
        return "", _float_text(values), ""
    if pa.types.is_decimal(kind):
        return '"', _decimal_text(values), '"'
    if pa.types.is_boolean(kind):
        return "", pc.if_else(values, pa.scalar("true"), pa.scalar("false")), ""
    if pa.types.is_timestamp(kind):
        return '"', _timestamp_wall_text(values), '"' if kind.tz is None else 'Z"'
    if pa.types.is_date(kind):
        return '"', values.cast(pa.date32()).cast(pa.string()), '"'
    if pa.types.is_time(kind):
        return '"', _time_text(values), '"'
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return '"', _base64(values), '"'
    if pa.types.is_null(kind):
        return "", pa.nulls(len(values), pa.string()), ""
    raise UnsupportedJsonTypeError(f"no JSON encoding for Arrow type {kind}")


def _joined(before: str, text: pa.Array, after: str) -> pa.Array:
    return pc.binary_join_element_wise(before, text, after, "") if before or after else text


def json_literals(values: pa.Array) -> pa.Array:
    """Each value as JSON text; nulls stay Arrow nulls (the caller decides how a null is written)."""
    return _joined(*_json_pieces(values))


def _key_text(values: pa.Array) -> pa.Array:
    """A single key column's value as plain text: strings unquoted, everything else as in the value encoding."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return values.cast(pa.string())
    if pa.types.is_decimal(kind):
        return _decimal_text(values)
    if pa.types.is_timestamp(kind):
        return _timestamp_text(values)
    if pa.types.is_date(kind):
        return values.cast(pa.date32()).cast(pa.string())
    if pa.types.is_time(kind):
        return _time_text(values)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return _base64(values)
    return json_literals(values)


def encode_values(batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> pa.Array:
    """One JSON object per row with the named columns, in that order, as a string array."""
    if not columns:
        raise ValueError("a message needs at least one column")
    # Alternately the text between two columns' values, the same in every row, and a column's values.
    parts: list[pa.Array | str] = []
    between = ""
    for i, name in enumerate(columns):
        between += ("{" if i == 0 else ",") + _escaped_string(pa.array([name])).to_pylist()[0] + ":"
        before, text, after = _json_pieces(batch.column(name))
        if text.null_count == 0:
            # No null to write as a bare `null`: the value's quotes (or "Z") go into the text around it, which the
            # row join writes anyway, and the column needs no pass of its own to add them.
            parts += [between + before, text]
            between = after
        else:
            parts += [between, pc.fill_null(_joined(before, text, after), _NULL)]
            between = ""
    parts.append(between + "}")
    # Scalars broadcast; the last argument of binary_join_element_wise is the separator.
    return pc.binary_join_element_wise(*parts, "")


def encode_keys(batch: pa.RecordBatch | pa.Table, key_columns: Sequence[str]) -> pa.Array | None:
    """Message keys for the rows, or None when the entity has no key columns."""
    if not key_columns:
        return None
    if len(key_columns) == 1:
        return _key_text(batch.column(key_columns[0]))
    parts: list[pa.Array | str] = ["["]
    for i, name in enumerate(key_columns):
        if i:
            parts.append(",")
        parts.append(pc.fill_null(json_literals(batch.column(name)), _NULL))
    parts.append("]")
    return pc.binary_join_element_wise(*parts, "")
