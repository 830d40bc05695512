"""Watermarks are stored as text; these turn them into cursor values and back, per type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def cursor_type(value: Any) -> str:
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    return "string"


def encode(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # zone-less cursors are UTC
        return aware.astimezone(UTC).isoformat()
    return str(value)


def decode(text: str | None, value_type: str) -> Any:
    if text is None:
        return None
    if value_type == "timestamp":
        return datetime.fromisoformat(text)
    if value_type == "integer":
        return int(text)
    return text
