"""Rows tied with the watermark, on the stack's MariaDB and Postgres, through every stage (Kafka and control DB
included): a window reads its low end inclusively and leaves out, by primary key, the rows the run that set the
watermark already published; a lookback still re-reads (and re-sends) what it covers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pipeline.sql_tables import DATABASES, insert_orders, orders_table, sql_entity
from tests.integration.support import landed_table, read_committed, run_stages, source_config, write_configs

T0 = datetime(2026, 11, 1, tzinfo=UTC)
FIRST, SECOND = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
ROWS = 50  # one a minute: the newest at T0 + 50 min


def _source(database: str, table: str, load: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = table.removesuffix("_orders")
    config = source_config(
        name, "sql", DATABASES[database]["conn_id"], [sql_entity(database, table, load)], retries={"count": 0}
    )
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return name


def _run(name: str, run_id: str, end: datetime) -> dict[str, Any]:
    return run_stages(name, "orders", run_id, end)


def _landed_ids(results: dict[str, Any]) -> list[int]:
    landed = results["extract_land"]
    return sorted(landed_table(landed).column("order_id").to_pylist()) if landed["files"] else []


def _published_ids(name: str, run_id: str) -> list[int]:
    return sorted(
        json.loads(value)["order_id"]
        for _key, value, headers in read_committed(f"ingest.{name}.orders")
        if headers["ingest_run_id"] == run_id.encode()
    )


def _checks(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in results["validate"]["checks"]}


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_rows_committed_later_with_the_watermarks_value_are_read_and_the_published_ones_are_not(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"w{uuid.uuid4().hex[:8]}_orders"
    with orders_table(database, table) as writer:
        insert_orders(writer, table, [(i, i, T0 + timedelta(minutes=i)) for i in range(1, ROWS + 1)])
        name = _source(database, table, {"mode": "incremental", "cursor_column": "updated_at"}, tmp_path, monkeypatch)
        first = _run(name, "scheduled__2026-11-02", FIRST)
        high = T0 + timedelta(minutes=ROWS)
        assert first["extract_land"]["watermark_to"] == high.isoformat()
        assert first["commit"]["moved_watermark"]

        # The reported case: 20 rows committed after the run, with updated_at equal to the watermark.
        insert_orders(writer, table, [(1000 + i, 1000 + i, high) for i in range(20)])
        second = _run(name, "scheduled__2026-11-03", SECOND)

    assert _landed_ids(second) == list(range(1000, 1020))  # all 20, and nothing of run 1 again
    landed = second["extract_land"]
    assert landed["left_out_at_boundary"] == 1  # row 50: published by run 1 at the watermark's value
    assert landed["window"] == f"[{high.isoformat()}, {high.isoformat()}]"
    assert landed["watermark_to"] == high.isoformat()
    reconciliation = _checks(second)["reconciliation"]
    assert reconciliation["passed"]
    assert (reconciliation["observed"]["source"], reconciliation["observed"]["landed"]) == (21, 20)
    assert _published_ids(name, "scheduled__2026-11-02") == list(range(1, ROWS + 1))
    assert _published_ids(name, "scheduled__2026-11-03") == list(range(1000, 1020))


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_a_lookback_still_re_reads_and_re_sends_what_it_covers(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"w{uuid.uuid4().hex[:8]}_orders"
    with orders_table(database, table) as writer:
        insert_orders(writer, table, [(i, i, T0 + timedelta(minutes=i)) for i in range(1, ROWS + 1)])
        load = {"mode": "incremental", "cursor_column": "updated_at", "lookback_minutes": 5}
        name = _source(database, table, load, tmp_path, monkeypatch)
        _run(name, "scheduled__2026-11-02", FIRST)
        high = T0 + timedelta(minutes=ROWS)
        insert_orders(writer, table, [(1000 + i, 1000 + i, high) for i in range(20)])
        second = _run(name, "scheduled__2026-11-03", SECOND)

    # [high - 5 min, high]: rows 45..50 again (a lookback is at-least-once), and the 20 new ones.
    assert _landed_ids(second) == [*range(45, ROWS + 1), *range(1000, 1020)]
    assert second["extract_land"]["left_out_at_boundary"] == 0
    assert _checks(second)["reconciliation"]["passed"]
    assert _published_ids(name, "scheduled__2026-11-03") == [*range(45, ROWS + 1), *range(1000, 1020)]


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_lookback_ids_re_reads_a_row_committed_late_with_a_lower_id(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An integer cursor's high bound is the largest id at the start, with no time margin: a row that commits late
    # with a lower id is below the next window, and only a lookback in ids reads it.
    table = f"w{uuid.uuid4().hex[:8]}_orders"
    with orders_table(database, table) as writer:
        insert_orders(writer, table, [(i, 2 * i, T0) for i in range(1, ROWS + 1)])  # seq 2, 4, ... 100
        load = {"mode": "incremental", "cursor_column": "seq", "lookback_ids": 5}
        name = _source(database, table, load, tmp_path, monkeypatch)
        first = _run(name, "scheduled__2026-11-02", FIRST)
        assert first["extract_land"]["watermark_to"] == "100"
        insert_orders(writer, table, [(51, 97, T0), (52, 102, T0)])  # 97: late, below the watermark
        second = _run(name, "scheduled__2026-11-03", SECOND)

    # [95, 102]: seq 96, 97, 98, 100, 102.
    assert _landed_ids(second) == [48, 49, 50, 51, 52]
    assert second["extract_land"]["window"] == "[95, 102]"
    assert second["extract_land"]["watermark_to"] == "102"
    assert _checks(second)["reconciliation"]["passed"]


def test_a_primary_key_marked_pii_is_remembered_only_as_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import select

    from ingestion.state.engine import control_engine
    from ingestion.state.tables import boundary_keys

    table = f"w{uuid.uuid4().hex[:8]}_orders"
    with orders_table("postgres", table) as writer:
        insert_orders(writer, table, [(i, i, T0 + timedelta(minutes=i)) for i in range(1, ROWS + 1)])
        insert_orders(writer, table, [(7000 + i, 7000 + i, T0 + timedelta(minutes=ROWS)) for i in range(3)])
        entity = sql_entity("postgres", table, {"mode": "incremental", "cursor_column": "updated_at"})
        entity["columns"][0].update(pii=True, pii_strategy="hash")
        name = table.removesuffix("_orders")
        config = source_config(name, "sql", "crm_postgres", [entity], retries={"count": 0})
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
        first = _run(name, "scheduled__2026-11-02", FIRST)
        engine = control_engine()
        try:
            with engine.connect() as conn:
                remembered = (
                    conn.execute(select(boundary_keys.c.row_key).where(boundary_keys.c.source == name)).scalars().all()
                )
        finally:
            engine.dispose()
        insert_orders(writer, table, [(9000 + i, 9000 + i, T0 + timedelta(minutes=ROWS)) for i in range(5)])
        second = _run(name, "scheduled__2026-11-03", SECOND)

    # Rows 50, 7000, 7001, 7002 share the newest value: four keys, each the HMAC of the id, never the id itself.
    newest = T0 + timedelta(minutes=ROWS)
    hashed = sorted(r["order_id"] for r in landed_table(first["extract_land"]).to_pylist() if r["updated_at"] == newest)
    assert len(hashed) == 4
    assert sorted(json.loads(key)[0] for key in remembered) == hashed
    assert all(len(json.loads(key)[0]) == 64 for key in remembered)
    assert not {"50", "7000", "7001", "7002"} & {json.loads(key)[0] for key in remembered}
    assert second["extract_land"]["rows"] == 5
    assert second["extract_land"]["left_out_at_boundary"] == 4


def test_a_row_whose_key_is_null_is_never_taken_for_one_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A view or a table without a primary key constraint: the configured key column may hold nulls, and a null tells
    # no row from another. Every null-key row at the watermark was taken for the published one, and left out: lost.
    from tests.integration.support import crm_table

    table = f"w{uuid.uuid4().hex[:8]}_orders"
    columns = "order_id bigint NULL, status varchar(20) NOT NULL, seq bigint NOT NULL, updated_at timestamptz NOT NULL"
    high = T0 + timedelta(minutes=5)
    with crm_table(table, columns) as writer:
        insert_orders(writer, table, [(1, 1, high), (None, 2, high)])  # type: ignore[list-item]
        entity = sql_entity("postgres", table, {"mode": "incremental", "cursor_column": "updated_at"})
        entity["columns"][0]["nullable"] = True
        name = table.removesuffix("_orders")
        config = source_config(name, "sql", "crm_postgres", [entity], retries={"count": 0})
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
        first = _run(name, "scheduled__2026-11-02", FIRST)
        assert first["extract_land"]["watermark_to"] == high.isoformat()
        insert_orders(writer, table, [(None, 3, high)])  # type: ignore[list-item]
        second = _run(name, "scheduled__2026-11-03", SECOND)

    landed = second["extract_land"]
    assert landed["left_out_at_boundary"] == 1  # order 1 only: its key tells it from the new row
    published = [
        json.loads(value)["seq"]
        for _key, value, headers in read_committed(f"ingest.{name}.orders")
        if headers["ingest_run_id"] == b"scheduled__2026-11-03"
    ]
    # Seq 3 (new) is sent; seq 2 (null key, sent by run 1) is sent again: at least once, never lost.
    assert sorted(published) == [2, 3]
    assert _checks(second)["reconciliation"]["passed"]
