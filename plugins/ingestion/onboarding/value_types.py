"""The logical type (config/column_types.py) that fits every sampled value of a field: JSON values from an API or a
JSON Lines file, text cells from a CSV. Pure.

The narrowest type every non-null value converts to without loss, as the record typer (extract/record_typing.py)
would convert it: integers, then exact decimals (a JSON number or a text like "12.50"), then floats; dates, then
timestamps; booleans (JSON true/false, or "true"/"false" text); objects and lists are `json`; anything else `string`.
A field with no non-null value sampled is `string`, with a note saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+)\.(\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
BOOLEAN_TEXTS = frozenset({"true", "false"})
INT32 = 2**31 - 1
INT64 = 2**63 - 1
MAX_DECIMAL_DIGITS = 38


@dataclass(frozen=True)
class Inferred:
    type: str
    note: str = ""  # said in the draft's summary: why the type may need a look


def _is_timestamp(text: str) -> bool:
    if not _TIMESTAMP.match(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _kind(value: object) -> tuple[str, int, int]:
    """(kind, integer digits, scale) of one value; digits and scale only for numbers."""
    if isinstance(value, bool):
        return "boolean", 0, 0
    if isinstance(value, int):
        return "integer", len(str(abs(value))), 0
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "inf" in text or "nan" in text:
            return "float", 0, 0
        whole, _, fraction = text.partition(".")
        return "decimal", len(whole.lstrip("-")), len(fraction.rstrip("0"))
    if isinstance(value, dict | list):
        return "json", 0, 0
    text = str(value).strip()
    if _INTEGER.match(text):
        return "integer", len(text.lstrip("+-")), 0
    if match := _DECIMAL.match(text):
        return "decimal", len(match[1]), len(match[2])
    if text.lower() in BOOLEAN_TEXTS:
        return "boolean", 0, 0
    if _is_date(text):
        return "date", 0, 0
    if _is_timestamp(text):
        return "timestamp", 0, 0
    try:
        Decimal(text)
    except InvalidOperation:
        return "string", 0, 0
    return ("float", 0, 0) if text.lower() not in ("nan", "inf", "-inf", "infinity") else ("string", 0, 0)


def infer_type(values: Iterable[object]) -> Inferred:
    """The type of a field from its sampled values (None is skipped)."""
    kinds: set[str] = set()
    digits = scale = 0
    largest = 0
    for value in values:
        if value is None:
            continue
        kind, whole, fraction = _kind(value)
        kinds.add(kind)
        digits, scale = max(digits, whole), max(scale, fraction)
        if kind == "integer":
            largest = max(largest, abs(int(str(value).strip())))
    if not kinds:
        return Inferred("string", "no value sampled (every one null or missing): drafted as string")
    if kinds == {"integer"}:
        return Inferred("integer" if largest <= INT32 else "bigint" if largest <= INT64 else "decimal")
    if kinds <= {"integer", "decimal"}:
        # Room for ten times the largest sampled value, at the sampled scale.
        precision = min(MAX_DECIMAL_DIGITS, max(digits + 1, 10) + scale)
        if digits + scale > MAX_DECIMAL_DIGITS:
            return Inferred("decimal", "more than 38 digits sampled: exact decimal carried as text")
        return Inferred(f"decimal({precision},{scale})", "precision guessed from the sample: check the source's")
    if kinds <= {"integer", "decimal", "float"}:
        return Inferred("double")
    if len(kinds) == 1:
        return Inferred(kinds.pop())
    if kinds == {"date", "timestamp"}:
        return Inferred("timestamp")
    return Inferred("string", f"mixed values sampled ({', '.join(sorted(kinds))}): drafted as string")
