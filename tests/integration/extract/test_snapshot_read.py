"""A window counted and read in one snapshot, through each reader the platform has: ADBC and the server-side cursor on
Postgres, the streaming cursor on MariaDB. The count is of the same rows the read yields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from ingestion.config.models import Column
from ingestion.extract.arrow_types import arrow_schema
from ingestion.extract.snapshot_read import WindowRead
from ingestion.extract.sql_engine import source_engine
from ingestion.extract.sql_query import select_count, select_rows, source_relation, window_for_dialect
from ingestion.extract.window import incremental_window
from tests.integration.pipeline.sql_tables import DATABASES, ORDER_COLUMNS, insert_orders, orders_table

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(("database", "use_adbc"), [("postgres", True), ("postgres", False), ("mariadb", False)])
def test_the_count_is_of_the_rows_the_read_yields(database: str, use_adbc: bool) -> None:
    table = f"r{uuid.uuid4().hex[:8]}_orders"
    schema = arrow_schema([Column.model_validate(c) for c in ORDER_COLUMNS])
    with orders_table(database, table) as writer:
        insert_orders(writer, table, [(i, i, T0 + timedelta(minutes=i)) for i in range(1, 201)])
        engine = source_engine(DATABASES[database]["conn_id"])
        try:
            relation = source_relation(table_name=table, schema=DATABASES[database]["schema"], query=None)
            window = incremental_window(
                watermark=T0 + timedelta(minutes=50), max_cursor=T0 + timedelta(minutes=150), now=datetime.now(UTC)
            )
            bounded = window_for_dialect(window, engine.dialect.name)
            read = WindowRead(
                engine,
                select_rows(relation, schema.names, "updated_at", bounded),
                select_count(relation, "updated_at", bounded),
                schema,
                use_adbc=use_adbc,
                batch_rows=30,
            )
            batches = list(read.batches())
        finally:
            engine.dispose()
    ids = sorted(pa.Table.from_batches(batches, schema=schema).column("order_id").to_pylist())
    assert ids == list(range(50, 151))  # [50 min, 150 min]: the low end inclusive
    assert read.counted == len(ids)
