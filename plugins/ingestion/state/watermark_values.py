"""Watermarks are stored as text; these turn them into cursor values and back, per type.

A run stores what `encode` makes of its cursor value (`cursor_type` names the type): timestamps as aware-UTC
`isoformat()`, integers as their digits, anything else as `str()`. The commit compares that text with the live
watermark, so a value set by hand must be the same text: `normalise` turns what an operator typed into it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ingestion.state.errors import WatermarkValueError

if TYPE_CHECKING:
    from ingestion.config.models import Entity

VALUE_TYPES = ("timestamp", "integer", "string")
# Logical column types (config.column_types) whose values a run reads as datetime / int; every other cursor column
# (date, decimal, string, ...) is stored with `str()` as a "string".
TIMESTAMP_COLUMN_TYPES = frozenset({"timestamp", "timestamptz", "timestamp_ntz"})
INTEGER_COLUMN_TYPES = frozenset({"smallint", "integer", "int", "bigint"})
ACCEPTED_FORMS = {
    "timestamp": "an ISO 8601 date or date-time, e.g. 2026-11-03T02:00:00Z, 2026-11-03T03:00:00+01:00, "
    "2026-11-03T02:00:00 (no zone: UTC) or 2026-11-03 (midnight UTC)",
    "integer": "a whole number, e.g. 42, +42 or -7",
    "string": "any text",
}


def cursor_type(value: Any) -> str:
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    return "string"


def column_value_type(logical_type: str) -> str:
    """The value type a run stores for a cursor column of this logical type."""
    name = logical_type.strip().lower()
    if name in TIMESTAMP_COLUMN_TYPES:
        return "timestamp"
    if name in INTEGER_COLUMN_TYPES:
        return "integer"
    return "string"


def entity_value_type(entity: Entity) -> str | None:
    """The value type of the entity's watermark: file sources keep the newest file mtime (a timestamp); row sources
    their cursor column's declared type. None when the cursor column is not declared (a table read as it is)."""
    if entity.locator.kind == "sftp":
        return "timestamp"
    cursor = entity.load.cursor_column
    declared = next((column.type for column in entity.columns if column.name == cursor), None)
    return column_value_type(declared) if declared is not None else None


def encode(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # zone-less cursors are UTC
        return aware.astimezone(UTC).isoformat()
    return str(value)


def _refused(text: str, value_type: str) -> WatermarkValueError:
    return WatermarkValueError(
        f"{text!r} is not {'an' if value_type == 'integer' else 'a'} {value_type}: give {ACCEPTED_FORMS[value_type]}"
    )


def _timestamp(text: str) -> datetime:
    """Aware UTC; a value without a zone is UTC (as runs read zone-less cursors), a date is its midnight."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _refused(text, "timestamp") from None
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        return aware.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last UTC time Python can hold
        raise _refused(text, "timestamp") from None


def _integer(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _refused(text, "integer") from None


def normalise(text: str, value_type: str) -> str:
    """`text` as a run of this value type would have stored it, or WatermarkValueError."""
    if value_type == "timestamp":
        return _timestamp(text).isoformat()
    if value_type == "integer":
        return str(_integer(text))
    if value_type == "string":
        return text
    raise WatermarkValueError(f"unknown watermark value type {value_type!r}; use one of {', '.join(VALUE_TYPES)}")


def same_watermark(stored: str | None, expected: str | None, value_type: str) -> bool:
    """Whether two watermark texts mean the same value of `value_type`, so that a value stored by hand in another
    ISO form (before `normalise` existed) still matches the text a run read it as. Text that does not parse as its
    type is compared as it is."""
    if stored is None or expected is None:
        return stored is expected
    try:
        return normalise(stored, value_type) == normalise(expected, value_type)
    except WatermarkValueError:
        return stored == expected


def decode(text: str | None, value_type: str) -> Any:
    if text is None:
        return None
    if value_type == "timestamp":
        return _timestamp(text)
    if value_type == "integer":
        return _integer(text)
    return text
