"""SQL statements for an entity, built with SQLAlchemy Core: identifiers quoted by the dialect, values bound.

Nothing from a config is ever formatted into SQL text: table, schema and column names become quoted identifiers,
window bounds become bind parameters. A `query` locator is wrapped as a subquery and filtered the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, and_, column, func, literal_column, select, table, text
from sqlalchemy.sql.expression import ColumnElement, FromClause

from ingestion.extract.source_zone import DEFAULT_ZONE, low_wall_clock, wall_clock
from ingestion.extract.window import Window

ZONE_LESS_DIALECTS = frozenset({"mysql", "mariadb"})  # every temporal value comes back without a zone


def window_for_dialect(window: Window, dialect_name: str) -> Window:
    """The window with the bounds the database compares a zone-less cursor with: wall-clock times of the cursor's
    zone (the source's `source_timezone`). A zone-aware bound would be sent with an offset that MySQL ignores or
    rejects, and that Postgres drops for a `timestamp without time zone` literal (or, as a parameter, turns into the
    session's zone). MySQL/MariaDB values never carry a zone: UTC unless the window names one. The low bound at the
    end of a spring-forward gap is the gap's start (extract/source_zone.py)."""
    cursor_zone = window.cursor_zone
    if cursor_zone is None and dialect_name in ZONE_LESS_DIALECTS:
        cursor_zone = DEFAULT_ZONE
    if cursor_zone is None:
        return window
    low, high = low_wall_clock(window.low, cursor_zone), wall_clock(window.high, cursor_zone)
    return replace(window, low=low, high=high)


def source_relation(*, table_name: str | None, schema: str | None, query: str | None) -> FromClause:
    if table_name is not None:
        return table(table_name, schema=schema)
    if query is None:
        raise ValueError("give a table or a query")
    return text(query).columns().subquery("src")


def _cursor(relation: FromClause, name: str) -> ColumnElement[Any]:
    # Bound to the relation, so it renders as "schema"."table"."col" / src."col", quoted as the dialect needs.
    return column(name, _selectable=relation)


def window_condition(relation: FromClause, cursor: str | None, window: Window) -> ColumnElement[bool] | None:
    if window.mode == "full" or cursor is None:
        return None
    col = _cursor(relation, cursor)
    parts: list[ColumnElement[bool]] = []
    if window.low is not None:
        parts.append(col >= window.low if window.low_inclusive else col > window.low)
    if window.high is not None:
        parts.append(col <= window.high if window.high_inclusive else col < window.high)
    return and_(*parts) if parts else None


def select_rows(
    relation: FromClause,
    columns: Sequence[str],
    cursor: str | None,
    window: Window,
    casts: Mapping[str, Callable[[ColumnElement[Any]], ColumnElement[Any]]] | None = None,
) -> Select[Any]:
    """The extract query. Without declared columns it selects every column the source has. `casts` converts some
    columns in the query, under their own names (extract/read_casts.py)."""
    statement: Select[Any]
    casts = casts or {}
    if columns:
        selected = [
            casts[name](column(name, _selectable=relation)).label(name)
            if name in casts
            else column(name, _selectable=relation)
            for name in columns
        ]
        statement = select(*selected)
    else:
        statement = select(literal_column("*")).select_from(relation)
    return _within(statement, relation, cursor, window)


def select_max_cursor(relation: FromClause, cursor: str) -> Select[Any]:
    return select(func.max(_cursor(relation, cursor)))


def select_cursor_sample(relation: FromClause, cursor: str) -> Select[Any]:
    """One cursor value, to tell from the driver's answer whether the column carries a zone (reads one row)."""
    col = _cursor(relation, cursor)
    return select(col).select_from(relation).where(col.is_not(None)).limit(1)


def select_count(relation: FromClause, cursor: str | None, window: Window) -> Select[Any]:
    """Rows in the window, for reconciliation against what was landed and published."""
    return _within(select(func.count()).select_from(relation), relation, cursor, window)


def select_null_cursor_count(relation: FromClause, cursor: str) -> Select[Any]:
    """Rows whose cursor is NULL: no window condition holds for them, so only a read without one lands them."""
    return select(func.count()).select_from(relation).where(_cursor(relation, cursor).is_(None))


def select_key_range(relation: FromClause, key: str, cursor: str | None, window: Window) -> Select[Any]:
    """The min and max of integer column `key` over the window's rows (load.partitions.ranges): the span its ranges
    split. Two index lookups for a full load; for a window, a range of the cursor's index where it has one."""
    value = _cursor(relation, key)
    return _within(select(func.min(value), func.max(value)).select_from(relation), relation, cursor, window)


def _within(statement: Select[Any], relation: FromClause, cursor: str | None, window: Window) -> Select[Any]:
    """`statement` over the window's rows only (all of them for a full window)."""
    condition = window_condition(relation, cursor, window)
    return statement.where(condition) if condition is not None else statement
