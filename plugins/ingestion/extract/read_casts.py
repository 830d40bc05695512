"""What the extract query selects for a column whose source type the driver cannot hand over as the declared type:
the database converts it to its own lossless text in the query, so every reader (ADBC's binary COPY, psycopg,
mysqlclient, pyodbc) receives that text.

- `string`/`text` of a column that is not text at the source (a UUID, a TIME, an inet, a MariaDB YEAR or SET):
  `CAST(col AS TEXT)` (PostgreSQL), `CAST(col AS CHAR)` (MySQL/MariaDB), `CAST(col AS NVARCHAR(max))` (SQL Server).
  ADBC would hand over a PostgreSQL uuid or inet as its binary wire form, and mysqlclient a TIME as a timedelta.
- `uuid`, unbounded `decimal`: the same text casts (SQL Server: `CHAR(36)`, `VARCHAR(50)`); a `numeric` with 1000
  digits or `NaN` stays exact.
- `interval` on PostgreSQL: `CAST(CAST(col AS INTERVAL) AS TEXT)`, read with `IntervalStyle = iso_8601`
  (`INTERVAL_STYLE`), so months, days and time stay apart (`P1Y2M-3DT4H`; a month is not 30 days).
- `json` of a PostgreSQL array: `CAST(array_to_json(col) AS TEXT)`; of json/jsonb: `CAST(col AS TEXT)` (ADBC
  would give jsonb's binary form).
- a PostgreSQL `money` declared as a decimal: `CAST(col AS NUMERIC)` (ADBC gives its count of cents).

Only tables are reflected: for a `query` locator the source's types are not known here, so `string` columns are cast
on PostgreSQL and MySQL (cheap there) and left to the reader's lossless text elsewhere; the query itself should
select a PostgreSQL array as `array_to_json(col)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import CHAR, NUMERIC, TEXT, VARCHAR, cast, func
from sqlalchemy.dialects import mssql, postgresql
from sqlalchemy.dialects.postgresql import INTERVAL

from ingestion.config.column_types import TEXT_TYPES

if TYPE_CHECKING:
    from sqlalchemy.sql.expression import ColumnElement

    from ingestion.config.models import Column
    from ingestion.extract.source_schema import SourceColumn

ReadCast = Callable[["ColumnElement[Any]"], "ColumnElement[Any]"]
# PostgreSQL writes intervals as ISO 8601 durations in the read's transaction (SET LOCAL ends with it).
INTERVAL_STYLE = "SET LOCAL intervalstyle = 'iso_8601'"
POSTGRES = "postgresql"
MYSQL_FAMILY = frozenset({"mysql", "mariadb"})
MSSQL = "mssql"


def _text(dialect: str, sql_server_type: Any = None) -> Any:
    if dialect == POSTGRES:
        return TEXT()
    if dialect in MYSQL_FAMILY:
        return CHAR()  # MySQL's CAST takes CHAR (the connection's character set), not VARCHAR or TEXT
    if dialect == MSSQL:
        return sql_server_type if sql_server_type is not None else mssql.NVARCHAR(None)  # NVARCHAR(max)
    return VARCHAR()


def _as(type_: Any) -> ReadCast:
    return lambda col: cast(col, type_)


def _cast_for(dialect: str, logical: str, source: SourceColumn | None) -> ReadCast | None:
    native = source.native.upper() if source is not None else None
    textual = source is not None and source.textual
    if logical in TEXT_TYPES:
        if textual:
            return None
        if source is None and dialect not in (POSTGRES, *MYSQL_FAMILY):
            return None  # unknown type; the reader takes the driver's value as lossless text or fails
        return _as(_text(dialect))
    if logical == "uuid":
        return None if textual else _as(_text(dialect, CHAR(36)))
    if logical in ("decimal", "numeric"):
        return None if textual else _as(_text(dialect, VARCHAR(50)))  # SQL Server's decimal has 38 digits at most
    if logical == "interval" and dialect == POSTGRES:
        return lambda col: cast(cast(col, INTERVAL()), TEXT())
    if logical == "json" and dialect == POSTGRES and not textual:
        if (native is not None and native.startswith("ARRAY")) or (native or "").endswith("[]"):
            return lambda col: cast(func.array_to_json(col), TEXT())
        return _as(TEXT())
    if logical.startswith(("decimal(", "numeric(")) and dialect == POSTGRES and native == "MONEY":
        return _as(NUMERIC())
    return None


def read_casts(
    dialect: str, columns: Sequence[Column], reflected: Mapping[str, SourceColumn] | None
) -> dict[str, ReadCast]:
    """Column name -> the cast its select needs, for the columns that need one (`reflected`: the table's columns by
    name, None for a query locator)."""
    casts = {}
    for column in columns:
        source = reflected.get(column.name) if reflected is not None else None
        found = _cast_for(dialect, column.type.strip().lower(), source)
        if found is not None:
            casts[column.name] = found
    return casts


def compiled(statement: Any, dialect: str) -> str:
    """The statement's SQL for a dialect, for tests and messages (no server needed)."""
    dialects: dict[str, Any] = {POSTGRES: postgresql.dialect(), MSSQL: mssql.dialect()}
    if dialect in MYSQL_FAMILY:
        from sqlalchemy.dialects import mysql

        dialects[dialect] = mysql.dialect()
    return str(statement.compile(dialect=dialects[dialect]))
