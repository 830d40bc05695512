"""The seeded SQL sources through the providers' DbApiHooks: Postgres and a MySQL-family server (MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from airflow.providers.mysql.hooks.mysql import MySqlHook
from airflow.providers.postgres.hooks.postgres import PostgresHook


def test_postgres_crm_is_seeded_with_awkward_values() -> None:
    hook = PostgresHook(postgres_conn_id="crm_postgres")
    assert hook.get_first("SELECT count(*) FROM customers")[0] == 200
    assert hook.get_first("SELECT count(*) FROM orders")[0] == 1000
    rows = {
        r[0]: r
        for r in hook.get_records(
            "SELECT customer_id, full_name, phone, credit_limit, updated_at FROM customers WHERE customer_id <= 5"
        )
    }
    assert rows[2][1] == "Björn Ångström"
    assert rows[2][2] is None
    assert rows[3][1] == "陈伟"
    assert rows[5][3] == Decimal("9999999999.99")
    assert rows[4][4] == datetime(2026, 11, 2, 11, 45, 30, 123456, tzinfo=UTC)


def test_postgres_source_role_is_read_only() -> None:
    import psycopg
    import pytest

    hook = PostgresHook(postgres_conn_id="crm_postgres")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        hook.run("DELETE FROM customers WHERE customer_id = 1")


def test_control_database_is_reachable() -> None:
    hook = PostgresHook(postgres_conn_id="control_db")
    assert hook.get_first("SELECT current_database(), current_user") == ("control", "ingest")


def test_mariadb_shop_is_seeded() -> None:
    hook = MySqlHook(mysql_conn_id="shop_mysql")
    rows = hook.get_records("SELECT product_id, name, price, in_stock FROM products ORDER BY product_id")
    assert len(rows) == 5
    assert rows[1][1] == "Thé vert 绿茶"
    assert rows[3][1] == "Desk lamp 💡"
    assert rows[4][2] == Decimal("9999999.99")
    assert rows[2][3] == 0
