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
from ingestion.extract.sql_engine import source_engine
from ingestion.extract.sql_query import select_rows, source_relation
from ingestion.extract.sql_reader import SchemaMismatchError, read_batches
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
