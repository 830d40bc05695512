"""What a content check's `params` may hold, checked when the config loads rather than when validate runs.

A misspelt param (`polcy`) was ignored and its default used; a bound the column cannot be compared with (`"abc"`
for an integer, `0.5` for an integer, which Arrow refuses to cast) made validate fail with an Arrow error; a
`min` above its `max`, or an empty list of accepted values, made every run fail the check. Pure: the models call it.

Two levels: `params_problem` needs only the check (names and value shapes); `bound_problem` needs the type of the
column the check reads, which the entity knows.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from ingestion.config.column_types import DECIMAL, TEXT_CARRIED, normal

# The params each kind reads (validate/checks.py); any other name is a typo whose meaning would be lost.
CHECK_PARAMS: dict[str, frozenset[str]] = {
    "not_null": frozenset(),
    "unique": frozenset(),
    "accepted_values": frozenset({"values"}),
    "range": frozenset({"min", "max"}),
    "regex": frozenset({"pattern"}),
    "freshness": frozenset({"max_age_minutes"}),
    "row_count": frozenset({"min", "max"}),
    "zero_rows": frozenset({"policy"}),
    "row_count_anomaly": frozenset({"lookback_runs", "min_history", "tolerance"}),
    "reconciliation": frozenset(),
}
_INTEGERS = frozenset({"smallint", "integer", "bigint"})
_FLOATS = frozenset({"float", "double"})
_TIMES = frozenset({"timestamp", "timestamp_ntz"})
FRESHNESS_TYPES = _TIMES


def params_problem(kind: str, params: dict[str, Any]) -> str | None:
    """What is wrong with a check's params whatever its column, or None."""
    allowed = CHECK_PARAMS.get(kind, frozenset())
    if unknown := sorted(set(params) - allowed):
        takes = f"params {', '.join(sorted(allowed))}" if allowed else "no params"
        return f"check {kind} takes {takes}, not {unknown}"
    if kind == "accepted_values" and isinstance(params.get("values"), list | tuple) and not params["values"]:
        return "check accepted_values: params.values is empty, so every value would fail; list the accepted values"
    if kind == "range":
        return _range_shape(params)
    if kind == "row_count":
        return _counts(kind, params, ("min", "max"), least=0) or _ordered(kind, params)
    if kind == "row_count_anomaly":
        if problem := _counts(kind, params, ("lookback_runs", "min_history"), least=1):
            return problem
        tolerance = params.get("tolerance", 0.5)
        if not _is_number(tolerance) or tolerance < 0:
            return "check row_count_anomaly: params.tolerance is a number of 0 or more (0.5: within half the median)"
    return None


def bound_problem(kind: str, params: dict[str, Any], column: str, column_type: str) -> str | None:
    """What keeps a check's values from being compared with the column's, or None. `column_type` as declared."""
    logical = normal(column_type)
    where = f"check {kind} on {column!r} ({column_type})"
    if kind == "freshness":
        if logical not in FRESHNESS_TYPES:
            return f"{where}: freshness measures a timestamp column"
        return None
    if kind == "range":
        if logical in TEXT_CARRIED or logical in ("boolean", "json", "binary"):
            return f"{where}: range cannot compare {column_type} values; use accepted_values or regex"
        for name in ("min", "max"):
            if params.get(name) is not None and (wrong := _misfit(params[name], logical)) is not None:
                return f"{where}: params.{name} must be {wrong}"
        return None
    if kind == "accepted_values":
        for index, value in enumerate(params.get("values", ())):
            if value is not None and (wrong := _misfit(value, logical)) is not None:
                return f"{where}: params.values[{index}] must be {wrong}"
    return None


def _range_shape(params: dict[str, Any]) -> str | None:
    for name in ("min", "max"):
        value = params.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float | str)):
            return f"check range: params.{name} is a number, or text for a date, time or timestamp"
    return _ordered("range", params)


def _ordered(kind: str, params: dict[str, Any]) -> str | None:
    low: Any = params.get("min")
    high: Any = params.get("max")
    if _is_number(low) and _is_number(high) and low > high:
        return f"check {kind}: params.min {low} is above params.max {high}, so every run would fail it"
    return None


def _counts(kind: str, params: dict[str, Any], names: tuple[str, ...], least: int) -> str | None:
    for name in names:
        value = params.get(name)
        if value is not None and (not _is_number(value) or value != int(value) or value < least):
            return f"check {kind}: params.{name} is a whole number of {least} or more"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _misfit(value: Any, logical: str) -> str | None:
    """What a bound or accepted value for a column of `logical` type must be, when `value` is not that; else None."""
    if logical in _INTEGERS:
        return None if _is_number(value) and value == int(value) else "a whole number"
    if logical in _FLOATS:
        return None if _is_number(value) else "a number"
    if DECIMAL.match(logical):
        return None if _is_number(value) or _decimal_text(value) else "a number, or its text ('100.50')"
    if logical in ("string", "uuid", "interval", "decimal"):
        return None if isinstance(value, str) else "text"
    if logical == "boolean":
        return None if isinstance(value, bool) else "true or false"
    parse = {"date": date.fromisoformat, "time": time.fromisoformat}.get(logical)
    if logical in _TIMES:
        parse = datetime.fromisoformat
    if parse is not None:
        return None if isinstance(value, str) and _parses(parse, value) else f"ISO-8601 text of a {logical}"
    return None


def _decimal_text(value: Any) -> bool:
    try:
        return isinstance(value, str) and Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True
