"""A SQL source end to end through its generated DAG (`airflow dags test`): extract_land -> validate -> publish ->
commit on the stack's Postgres, Azurite, Kafka and control DB.

The source is a table of this test's own, so its counts are exact. One scenario, in order, because each run
starts where the previous one's commit left the watermark: a full first load, then an incremental run after
updates, inserts and a late row.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from ingestion.land.lake import Lake
from ingestion.state.engine import control_engine
from ingestion.state.store import CommittedRunRecord, ControlStore
from tests.integration.support import (
    ORDERS_COLUMNS,
    ORDERS_TABLE_SQL,
    crm_table,
    dags_test,
    read_committed,
    sql_source_config,
    sqlite_airflow_env,
    write_configs,
)

COLUMNS = ORDERS_COLUMNS
ROWS = 300
LOOKBACK = timedelta(minutes=5)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An Airflow home on SQLite for `airflow dags test`, reading configs from a directory of this module's."""
    return sqlite_airflow_env(tmp_path_factory.mktemp("airflow"), write_configs(tmp_path_factory.mktemp("configs")))


@pytest.fixture(scope="module")
def source(airflow: dict[str, str]) -> Iterator[dict[str, Any]]:
    name = f"d{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    # Rows an hour apart, ending two days ago: the lookback re-reads only the newest one.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    with crm_table(table, ORDERS_TABLE_SQL) as writer:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {table} SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'Zoë ' || g END, g * 1.25, "
                    f"g % 2 = 0, :base - ({ROWS} - g) * interval '1 hour' FROM generate_series(1, {ROWS}) g"
                ),
                {"base": base},
            )
        entity = {
            "name": "orders",
            "locator": {"kind": "sql", "schema": "public", "table": table},
            "primary_key": ["order_id"],
            "columns": COLUMNS,
            "load": {
                "mode": "incremental",
                "cursor_column": "updated_at",
                "lookback_minutes": int(LOOKBACK.total_seconds() // 60),
                "safety_margin_seconds": 0,
            },
        }
        write_configs(Path(airflow["INGEST_CONFIG_DIR"]), sql_source_config(name, [entity], retries={"count": 0}))
        yield {"name": name, "table": table, "writer": writer, "base": base}


def _last_run(name: str) -> CommittedRunRecord:
    store = ControlStore(control_engine())
    try:
        return store.runs(name, "orders", limit=1)[0]
    finally:
        store.engine.dispose()


def _landed_rows(files: list[str]) -> list[dict[str, Any]]:
    lake = Lake.from_conn_id("lake_wasb", "landing")
    tables = [pq.read_table(io.BytesIO(lake.get(path))) for path in files]
    table = pa.concat_tables(tables)
    assert table.schema.field("amount").type == pa.decimal128(12, 2)
    assert table.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    return sorted(table.select([c["name"] for c in COLUMNS]).to_pylist(), key=lambda r: r["order_id"])


def _source_rows(writer: Any, table: str, where: str = "true", **params: Any) -> list[dict[str, Any]]:
    with writer.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} WHERE {where} ORDER BY order_id"), params).mappings().all()
    return [{**r, "updated_at": r["updated_at"].astimezone(UTC)} for r in rows]


def _messages_of(topic: str, run_id: str) -> dict[int, dict[str, Any]]:
    mine = [(k, v) for k, v, headers in read_committed(topic) if headers["ingest_run_id"] == run_id.encode()]
    decoded = {int(k): json.loads(v) for k, v in mine}
    assert len(decoded) == len(mine), "a row was published twice in one run"
    return decoded


def test_full_then_incremental_with_a_late_row(airflow: dict[str, str], source: dict[str, Any]) -> None:
    name, table, writer = source["name"], source["table"], source["writer"]
    dag_id, topic = f"ingest_{name}", f"ingest.{name}.orders"

    # Run 1: the first load reads the whole table.
    dags_test(airflow, dag_id, "2026-11-20")
    run1 = _last_run(name)
    assert (run1.rows_landed, run1.rows_published, run1.moved_watermark) == (ROWS, ROWS, True)
    source_rows = _source_rows(writer, table)
    assert _landed_rows(run1.files) == source_rows  # row by row, with types
    messages = _messages_of(topic, run1.run_id)
    assert sorted(messages) == list(range(1, ROWS + 1))  # exactly one committed message per row
    assert messages[3] == {
        "order_id": 3,
        "customer": "Zoë 3",
        "amount": "3.75",
        "paid": False,
        "updated_at": source_rows[2]["updated_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    high = source["base"]
    store = ControlStore(control_engine())
    assert store.get_watermark(name, "orders").value == high.isoformat()

    # Changes: two updates, one insert, and a late row committed now with a cursor below the high mark but
    # inside the lookback. Run 2 must read exactly those, plus the rows inside the lookback (the newest one).
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    late = high - LOOKBACK / 2
    with writer.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET amount = 999.99, updated_at = :now WHERE order_id IN (7, 8)"), {"now": now}
        )
        conn.execute(text(f"INSERT INTO {table} VALUES (1001, 'new', 1.00, true, :now)"), {"now": now})
        conn.execute(text(f"INSERT INTO {table} VALUES (1002, 'late', 2.00, false, :late)"), {"late": late})
    expected = _source_rows(writer, table, "updated_at >= :low", low=high - LOOKBACK)
    assert [r["order_id"] for r in expected] == [7, 8, ROWS, 1001, 1002]

    dags_test(airflow, dag_id, "2026-11-21")
    run2 = _last_run(name)
    assert run2.run_id != run1.run_id
    assert _landed_rows(run2.files) == expected
    assert sorted(_messages_of(topic, run2.run_id)) == [7, 8, ROWS, 1001, 1002]
    assert store.get_watermark(name, "orders").value == now.isoformat()
    history = store.history(name, "orders")
    assert [(h.old_value, h.new_value, h.run_id) for h in reversed(history)] == [
        (None, high.isoformat(), run1.run_id),
        (high.isoformat(), now.isoformat(), run2.run_id),
    ]
    store.engine.dispose()
