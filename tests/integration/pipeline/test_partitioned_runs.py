"""A partitioned SQL entity (load.partitions) through its generated DAG (`airflow dags test`) on the stack's Postgres
and MariaDB, Azurite, Kafka and control DB: extract_land and publish mapped over the partitions, one run for validate
and commit.

Each case checks what a consumer and an operator see: every source row of the window in the topic exactly once for
a read_committed consumer, in the partition its key hashes to (each publish task publishes its partition's files), each
partition's parts in the run's manifest, and the run record's counts equal to the source's (reconciliation compares
the window's count in each partition's snapshot, summed, with what landed).
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingestion.land.lake import Lake
from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from tests.integration.pipeline.sql_tables import DATABASES, insert_orders, orders_table, sql_entity
from tests.integration.support import (
    dags_test,
    read_committed_placed,
    source_config,
    sqlite_airflow_env,
    write_configs,
)

ROWS = 600
COUNT = 3
DAY = datetime(2026, 11, 20, tzinfo=UTC)  # the interval case's run covers this day


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sqlite_airflow_env(tmp_path_factory.mktemp("airflow"), write_configs(tmp_path_factory.mktemp("configs")))


@pytest.mark.parametrize(
    ("database", "load"),
    [
        ("postgres", {"mode": "full", "partitions": {"count": COUNT}}),
        ("mariadb", {"mode": "full", "partitions": {"count": COUNT}}),
        (
            "postgres",
            {"mode": "interval", "cursor_column": "updated_at", "partitions": {"count": COUNT, "column": "order_id"}},
        ),
        (
            "postgres",
            {
                "mode": "interval",
                "cursor_column": "updated_at",
                "partitions": {"count": COUNT, "column": "order_id", "ranges": True},
            },
        ),
    ],
    ids=["postgres-hash-full", "mariadb-hash-full", "postgres-column-interval", "postgres-ranges-interval"],
)
def test_a_partitioned_run_lands_and_publishes_each_row_of_its_window_once(
    airflow: dict[str, str], database: str, load: dict[str, Any]
) -> None:
    name = f"p{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    # Half the rows on DAY, half the day before: the interval run reads only DAY's.
    rows = [(i, i - ROWS // 2, DAY - timedelta(days=1) + timedelta(minutes=5 * i)) for i in range(1, ROWS + 1)]
    expected = {i for i, _, ts in rows if load["mode"] == "full" or DAY <= ts < DAY + timedelta(days=1)}
    with orders_table(database, table) as writer:
        insert_orders(writer, table, rows)
        config = source_config(name, "sql", DATABASES[database]["conn_id"], [sql_entity(database, table, load)])
        write_configs(Path(airflow["INGEST_CONFIG_DIR"]), config)

        output = dags_test(airflow, f"ingest_{name}", (DAY + timedelta(days=1)).isoformat())

    assert "reading partition 2 of 3" in output
    if load["partitions"].get("ranges"):
        assert "reads order_id in 3 ranges, cut at (" in output  # measured once, by the first partition to start
    messages = read_committed_placed(f"ingest.{name}.orders")
    published = Counter(int(key) for key, _, _, _ in messages)
    assert set(published) == expected
    assert max(published.values()) == 1, "a row was published more than once"
    assert all(partition == zlib.crc32(key) % 3 for key, _, _, partition in messages)  # kafka.partitions: 3

    store = ControlStore(control_engine())
    try:
        (record,) = store.runs(name, "orders")
        checks = {c["check_name"]: c for c in store.check_results(name, "orders", record.run_id)}
    finally:
        store.engine.dispose()
    assert record.rows_landed == record.rows_published == len(expected)
    reconciliation = checks["reconciliation"]
    assert reconciliation["passed"], reconciliation
    lake = Lake.from_conn_id("lake_wasb", "landing")
    manifest = json.loads(lake.get(next(n for n in lake.names(f"{name}/orders/") if n.endswith("_manifest.json"))))
    by_partition = Counter(f["path"].rsplit("_", 1)[1][:3] for f in manifest["files"] if f["rows"])
    assert set(by_partition) == {"p00", "p01", "p02"}, manifest["files"]  # every partition landed rows
    assert manifest["rows"] == len(expected)


def test_an_incremental_entity_in_ranges_publishes_each_row_once_over_two_runs(airflow: dict[str, str]) -> None:
    """Two runs of an incremental entity read in ranges of order_id: the second reads on from the first's watermark,
    including a row committed late at exactly its value, and leaves out the rows the first landed there, whichever
    partition read them."""
    name = f"p{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    load = {
        "mode": "incremental",
        "cursor_column": "updated_at",
        "safety_margin_seconds": 0,
        "partitions": {"count": COUNT, "column": "order_id", "ranges": True},
    }
    last = DAY - timedelta(hours=1)
    # 300 rows, the last 30 tied at the newest instant (spread over the ranges).
    first_rows = [(i, 1, last if i > 270 else last - timedelta(minutes=300 - i)) for i in range(1, 301)]
    with orders_table("postgres", table) as writer:
        insert_orders(writer, table, first_rows)
        config = source_config(name, "sql", DATABASES["postgres"]["conn_id"], [sql_entity("postgres", table, load)])
        write_configs(Path(airflow["INGEST_CONFIG_DIR"]), config)
        first = dags_test(airflow, f"ingest_{name}", DAY.isoformat())
        # Then: ids 301..310 committed late at the first run's watermark, and 311..330 newer, across every range.
        later = [(i, 2, last) for i in range(301, 311)] + [
            (i, 2, last + timedelta(minutes=i - 300)) for i in range(311, 331)
        ]
        insert_orders(writer, table, later)
        second = dags_test(airflow, f"ingest_{name}", (DAY + timedelta(days=1)).isoformat())

    assert "reads the window" in first
    assert "reads the run's window" in first  # the partitions after the first read the window it fixed
    messages = read_committed_placed(f"ingest.{name}.orders")
    published = Counter(int(key) for key, _, _, _ in messages)
    assert set(published) == set(range(1, 331))
    assert max(published.values()) == 1, "a row was published more than once"
    store = ControlStore(control_engine())
    try:
        runs = sorted(store.runs(name, "orders"), key=lambda r: r.run_id)
    finally:
        store.engine.dispose()
    assert [(r.rows_landed, r.rows_published) for r in runs] == [(300, 300), (30, 30)]
    assert "left out" in second
