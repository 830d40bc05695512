"""Extract statements at the compiled-SQL level for Postgres, MySQL/MariaDB and SQL Server.

Identifiers from configs are quoted by each dialect, and window bounds are bind parameters: no config or
watermark value ever appears in the SQL text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.dialects import mssql, mysql, postgresql
from sqlalchemy.engine import Dialect

from ingestion.extract.sql_query import select_count, select_max_cursor, select_rows, source_relation
from ingestion.extract.window import full_window, incremental_window, interval_window

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = incremental_window(watermark=T0, max_cursor=T0 + timedelta(days=1), now=T0 + timedelta(days=2))
DIALECTS = {"postgresql": postgresql.dialect(), "mysql": mysql.dialect(), "mssql": mssql.dialect()}
QUOTED = {
    "postgresql": ('"select"."Order Items"', '"from"', '"updatedAt"'),
    "mysql": ("`select`.`Order Items`", "`from`", "`updatedAt`"),
    "mssql": ("[select].[Order Items]", "[from]", "[updatedAt]"),
}


def _compile(statement: object, dialect: Dialect) -> tuple[str, dict]:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    return " ".join(str(compiled).split()), dict(compiled.params)


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_identifiers_are_quoted_for_the_dialect_and_values_bound(name: str) -> None:
    relation = source_relation(table_name="Order Items", schema="select", query=None)
    sql, params = _compile(select_rows(relation, ["id", "from", "updatedAt"], "updatedAt", WINDOW), DIALECTS[name])
    table_sql, from_sql, cursor_sql = QUOTED[name]
    assert f"FROM {table_sql} WHERE" in sql
    assert f"{table_sql}.{from_sql}" in sql
    assert f"{table_sql}.{cursor_sql} >" in sql
    assert f"{table_sql}.{cursor_sql} <=" in sql
    assert sorted(params.values()) == [T0, T0 + timedelta(days=1)]
    assert "2026" not in sql  # the bounds are parameters, never text


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_a_hostile_value_stays_a_parameter(name: str) -> None:
    relation = source_relation(table_name="orders", schema=None, query=None)
    hostile = "x'; DROP TABLE orders; --"
    window = incremental_window(watermark=hostile, max_cursor="zzz", now=T0)
    sql, params = _compile(select_rows(relation, ["id"], "code", window), DIALECTS[name])
    assert "DROP" not in sql
    assert hostile in params.values()


def test_full_load_has_no_where_clause_and_interval_is_half_open() -> None:
    relation = source_relation(table_name="orders", schema="public", query=None)
    full_sql, _ = _compile(select_rows(relation, ["order_id"], "ordered_at", full_window()), DIALECTS["postgresql"])
    assert "WHERE" not in full_sql
    interval = interval_window(T0, T0 + timedelta(days=1))
    sql, params = _compile(select_rows(relation, ["order_id"], "ordered_at", interval), DIALECTS["postgresql"])
    assert "public.orders.ordered_at >= %(ordered_at_1)s" in sql
    assert "public.orders.ordered_at < %(ordered_at_2)s" in sql
    assert list(params.values()) == [T0, T0 + timedelta(days=1)]


def test_query_locator_is_wrapped_and_filtered_like_a_table() -> None:
    relation = source_relation(table_name=None, schema=None, query="SELECT * FROM customers WHERE is_active")
    sql, _ = _compile(select_rows(relation, [], "updated_at", WINDOW), DIALECTS["postgresql"])
    assert sql.startswith("SELECT * FROM (SELECT * FROM customers WHERE is_active) AS src WHERE src.updated_at >")
    count_sql, _ = _compile(select_count(relation, "updated_at", WINDOW), DIALECTS["mssql"])
    assert count_sql.startswith("SELECT count(*) AS count_1 FROM (SELECT * FROM customers WHERE is_active) AS src")
    max_sql, _ = _compile(select_max_cursor(relation, "updated_at"), DIALECTS["mysql"])
    assert max_sql == "SELECT max(src.updated_at) AS max_1 FROM (SELECT * FROM customers WHERE is_active) AS src"
