"""The extract statements run on the stack's real Postgres and MariaDB through engines built from the Airflow
connections: max cursor, windowed rows and window counts agree with what the databases hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from ingestion.extract.sql_engine import source_engine
from ingestion.extract.sql_query import (
    select_count,
    select_max_cursor,
    select_rows,
    source_relation,
    window_for_dialect,
)
from ingestion.extract.window import full_window, incremental_window, interval_window

SOURCES = {
    # conn id, schema, table, key, cursor
    "postgres": ("crm_postgres", "public", "customers", "customer_id", "updated_at"),
    "mariadb": ("shop_mysql", None, "products", "product_id", "updated_at"),
}


@pytest.fixture(params=sorted(SOURCES))
def source(request: pytest.FixtureRequest) -> Iterator[tuple[Engine, tuple]]:
    spec = SOURCES[request.param]
    engine = source_engine(spec[0])
    yield engine, spec
    engine.dispose()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # MariaDB DATETIME holds UTC without a zone


def test_max_cursor_window_rows_and_count_agree(source: tuple[Engine, tuple]) -> None:
    engine, (_conn, schema, table_name, key, cursor) = source
    relation = source_relation(table_name=table_name, schema=schema, query=None)
    with engine.connect() as conn:
        max_cursor = _aware(conn.execute(select_max_cursor(relation, cursor)).scalar_one())
        everything = conn.execute(select_rows(relation, [key, cursor], cursor, full_window())).all()
        assert max_cursor == max(_aware(row[1]) for row in everything)

        # A watermark in the middle: the window holds exactly the rows at or above it (rows tied with the watermark
        # are read again; extract_land leaves out the ones already landed, by key).
        ordered = sorted(_aware(row[1]) for row in everything)
        watermark = ordered[len(ordered) // 2]
        window = incremental_window(watermark=watermark, max_cursor=max_cursor, now=datetime.now(UTC))
        window = window_for_dialect(window, engine.dialect.name)
        rows = conn.execute(select_rows(relation, [key, cursor], cursor, window)).all()
        expected = [r for r in everything if _aware(r[1]) >= watermark]
        assert sorted(r[0] for r in rows) == sorted(r[0] for r in expected)
        assert conn.execute(select_count(relation, cursor, window)).scalar_one() == len(expected)
        assert 0 < len(expected) < len(everything)


def test_interval_window_on_postgres_is_half_open() -> None:
    engine = source_engine("crm_postgres")
    relation = source_relation(table_name="orders", schema="public", query=None)
    with engine.connect() as conn:
        day = conn.execute(text("SELECT date_trunc('day', min(ordered_at)) FROM orders")).scalar_one()
        start = day.astimezone(UTC)
        window = interval_window(start, start + timedelta(days=1))
        count = conn.execute(select_count(relation, "ordered_at", window)).scalar_one()
        direct = conn.execute(
            text("SELECT count(*) FROM orders WHERE ordered_at >= :a AND ordered_at < :b"),
            {"a": start, "b": start + timedelta(days=1)},
        ).scalar_one()
    engine.dispose()
    assert count == direct
    assert count > 0


def test_query_locator_runs_as_a_subquery() -> None:
    engine = source_engine("crm_postgres")
    relation = source_relation(table_name=None, schema=None, query="SELECT * FROM customers WHERE is_active")
    with engine.connect() as conn:
        count = conn.execute(select_count(relation, None, full_window())).scalar_one()
        direct = conn.execute(text("SELECT count(*) FROM customers WHERE is_active")).scalar_one()
    engine.dispose()
    assert count == direct
    assert count > 0
