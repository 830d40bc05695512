"""Rows stream out of the real Postgres and MariaDB as Arrow batches of the config's types, values kept exactly."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import text

from ingestion.config.loader import load_configs
from ingestion.extract.arrow_types import arrow_schema
from ingestion.extract.errors import SchemaMismatchError
from ingestion.extract.sql_engine import source_engine
from ingestion.extract.sql_query import select_rows, source_relation
from ingestion.extract.sql_reader import read_batches
from ingestion.extract.window import full_window

REPO = Path(__file__).resolve().parents[3]


def test_crm_customers_stream_in_batches_with_exact_types() -> None:
    config = load_configs(REPO / "include" / "source_configs", "dev").configs["crm"]
    entity = config.entities[0]
    schema = arrow_schema(entity.columns)
    relation = source_relation(table_name="customers", schema="public", query=None)
    statement = select_rows(relation, schema.names, "updated_at", full_window())
    engine = source_engine(config.conn_id)
    batches = list(read_batches(engine, statement, schema, batch_rows=64))
    with engine.connect() as conn:
        expected = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM customers ORDER BY customer_id"))]
    engine.dispose()

    assert len(batches) == -(-len(expected) // 64)  # bounded batches, the last one partial
    assert all(b.num_rows <= 64 for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.schema == schema
    assert table.schema.field("credit_limit").type == pa.decimal128(12, 2)
    assert table.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    got = sorted(table.to_pylist(), key=lambda r: r["customer_id"])
    for row in expected:  # timestamptz arrives in the session's zone: compare instants in UTC
        row["created_at"] = row["created_at"].astimezone(UTC)
        row["updated_at"] = row["updated_at"].astimezone(UTC)
    assert got == expected
    bjorn = next(r for r in got if r["customer_id"] == 2)
    assert (bjorn["full_name"], bjorn["phone"], bjorn["credit_limit"]) == ("Björn Ångström", None, Decimal("2500.50"))


def test_mariadb_products_keep_unicode_decimals_and_microseconds() -> None:
    schema = pa.schema(
        [
            pa.field("product_id", pa.int32(), nullable=False),
            pa.field("name", pa.string()),
            pa.field("price", pa.decimal128(10, 2)),
            pa.field("in_stock", pa.bool_()),
            pa.field("description", pa.string()),
            pa.field("updated_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    relation = source_relation(table_name="products", schema=None, query=None)
    engine = source_engine("shop_mysql")
    table = pa.Table.from_batches(
        read_batches(engine, select_rows(relation, schema.names, None, full_window()), schema, batch_rows=2)
    )
    engine.dispose()
    rows = {r["product_id"]: r for r in table.to_pylist()}
    assert rows[4]["name"] == "Desk lamp 💡"
    assert rows[2]["description"] is None
    assert rows[4]["description"] == ""
    assert rows[5]["price"] == Decimal("9999999.99")
    assert rows[3]["in_stock"] is False
    assert rows[4]["updated_at"].isoformat() == "2026-11-02T11:11:11.111111+00:00"  # DATETIME(6) read as UTC


def test_columns_that_differ_from_the_config_fail_clearly() -> None:
    schema = pa.schema([pa.field("product_id", pa.int32()), pa.field("sku", pa.string())])
    relation = source_relation(table_name="products", schema=None, query=None)
    engine = source_engine("shop_mysql")
    statement = select_rows(relation, ["product_id", "name"], None, full_window())
    with pytest.raises(
        SchemaMismatchError, match=r"returned columns \['product_id', 'name'\].*\['product_id', 'sku'\]"
    ):
        list(read_batches(engine, statement, schema))
    engine.dispose()


def test_adbc_reader_gives_the_same_batches_as_the_cursor_reader_for_a_window() -> None:
    from datetime import datetime, timedelta

    from ingestion.extract.adbc_reader import read_batches_adbc, usable_for
    from ingestion.extract.window import incremental_window

    config = load_configs(REPO / "include" / "source_configs", "dev").configs["crm"]
    entity = config.entities[0]
    schema = arrow_schema(entity.columns)
    relation = source_relation(table_name="customers", schema="public", query=None)
    engine = source_engine(config.conn_id)
    with engine.connect() as conn:
        low, high = conn.execute(text("SELECT min(updated_at), max(updated_at) FROM customers")).one()
        expected = conn.execute(text("SELECT customer_id FROM customers")).all()
    window = incremental_window(
        watermark=low + (high - low) / 3, max_cursor=high, now=datetime.now(UTC), lookback=timedelta(seconds=1)
    )
    assert usable_for("postgresql", window)
    statement = select_rows(relation, schema.names, "updated_at", window)
    by_cursor = pa.Table.from_batches(list(read_batches(engine, statement, schema)), schema=schema)
    by_adbc = pa.Table.from_batches(list(read_batches_adbc(engine.url, statement, schema)), schema=schema)
    engine.dispose()
    assert 0 < by_adbc.num_rows < len(expected)  # the window holds some rows, not all
    assert by_adbc.schema == schema  # numeric as decimal128(12,2), timestamps in UTC, not the driver's types
    assert by_adbc.sort_by("customer_id").equals(by_cursor.sort_by("customer_id"))


def test_text_cursors_and_other_databases_keep_the_bound_parameter_reader() -> None:
    from datetime import datetime

    from ingestion.extract.adbc_reader import usable_for
    from ingestion.extract.window import incremental_window

    now = datetime.now(UTC)
    assert not usable_for("postgresql", incremental_window(watermark="a'b", max_cursor="z", now=now))
    assert not usable_for("mysql", incremental_window(watermark=1, max_cursor=5, now=now))
    assert usable_for("postgresql", full_window())


def test_adbc_reader_reads_a_column_whose_name_holds_a_percent_sign() -> None:
    # The statement went to the server as compiled for psycopg, whose `%(name)s` parameters make SQLAlchemy write
    # every `%` as `%%`: the column `pct%` was asked for as `pct%%`, which does not exist.
    import uuid

    from ingestion.extract.adbc_reader import read_batches_adbc
    from tests.integration.support import crm_table

    table = f"p{uuid.uuid4().hex[:8]}_rates"
    schema = pa.schema([pa.field("Order ID", pa.int64(), nullable=False), pa.field("pct%", pa.string())])
    with crm_table(table, '"Order ID" bigint PRIMARY KEY, "pct%" varchar(10)') as writer:
        with writer.begin() as conn:
            conn.execute(text(f'INSERT INTO {table} ("Order ID", "pct%") VALUES (1, \'5%\'), (2, NULL)'))
        engine = source_engine("crm_postgres")
        relation = source_relation(table_name=table, schema="public", query=None)
        statement = select_rows(relation, schema.names, None, full_window())
        read = pa.Table.from_batches(list(read_batches_adbc(engine.url, statement, schema)), schema=schema)
        engine.dispose()
    assert read.sort_by("Order ID").to_pylist() == [{"Order ID": 1, "pct%": "5%"}, {"Order ID": 2, "pct%": None}]
