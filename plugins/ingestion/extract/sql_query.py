"""SQL statements for an entity, built with SQLAlchemy Core: identifiers quoted by the dialect, values bound.

Nothing from a config is ever formatted into SQL text: table, schema and column names become quoted identifiers,
window bounds become bind parameters. A `query` locator is wrapped as a subquery and filtered the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, column, func, literal_column, select, table, text
from sqlalchemy.sql.expression import ColumnElement, FromClause

from ingestion.extract.window import Window


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def window_for_dialect(window: Window, dialect_name: str) -> Window:
    """MySQL/MariaDB DATETIME has no zone (the platform stores UTC there): compare with naive UTC values, or the
    driver sends an offset the server ignores or rejects."""
    if dialect_name not in {"mysql", "mariadb"}:
        return window
    return replace(window, low=_naive_utc(window.low), high=_naive_utc(window.high))


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


def select_rows(relation: FromClause, columns: Sequence[str], cursor: str | None, window: Window) -> Select[Any]:
    """The extract query. Without declared columns it selects every column the source has."""
    statement: Select[Any]
    if columns:
        statement = select(*[column(name, _selectable=relation) for name in columns])  # type: ignore[assignment]
    else:
        statement = select(literal_column("*")).select_from(relation)
    condition = window_condition(relation, cursor, window)
    return statement.where(condition) if condition is not None else statement


def select_max_cursor(relation: FromClause, cursor: str) -> Select[Any]:
    return select(func.max(_cursor(relation, cursor)))


def select_count(relation: FromClause, cursor: str | None, window: Window) -> Select[Any]:
    """Rows in the window, for reconciliation against what was landed and published."""
    statement = select(func.count()).select_from(relation)
    condition = window_condition(relation, cursor, window)
    return statement.where(condition) if condition is not None else statement
