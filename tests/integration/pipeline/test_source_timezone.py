"""A source whose timestamps carry no zone (MariaDB DATETIME, Postgres `timestamp without time zone`) and whose
config names the zone they are written in: values land as the right UTC instants, the watermark is that instant,
and the next window's bounds are compared as wall-clock times of the zone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.pipeline.sql_tables import DATABASES, insert_orders, orders_table, sql_entity
from tests.integration.support import landed_table, run_stages, source_config, write_configs

BERLIN = ZoneInfo("Europe/Berlin")
WALL = datetime(2026, 11, 1, 10, 0)  # wall-clock time in Berlin (CET, UTC+1): 09:00 UTC
ROWS = 30  # ten minutes apart


def _instant(wall: datetime) -> datetime:
    return wall.replace(tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_zone_less_timestamps_are_wall_clock_times_of_the_source_zone(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"z{uuid.uuid4().hex[:8]}_orders"
    name = table.removesuffix("_orders")
    walls = {i: WALL + timedelta(minutes=10 * i) for i in range(1, ROWS + 1)}
    with orders_table(database, table, zone_less=True) as writer:
        insert_orders(writer, table, [(i, i, wall) for i, wall in walls.items()])
        entity = sql_entity(database, table, {"mode": "incremental", "cursor_column": "updated_at"})
        config = source_config(
            name,
            "sql",
            DATABASES[database]["conn_id"],
            [entity],
            retries={"count": 0},
            source_timezone="Europe/Berlin",
        )
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))

        first = run_stages(name, "orders", "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
        landed = {r["order_id"]: r["updated_at"] for r in landed_table(first["extract_land"]).to_pylist()}
        assert landed == {i: _instant(wall) for i, wall in walls.items()}  # 10:10 in Berlin is 09:10 UTC
        high = _instant(walls[ROWS])
        assert first["extract_land"]["watermark_to"] == high.isoformat()

        # One row ten minutes after the newest: the next window starts at the newest row's wall-clock time. Taken
        # as UTC instead, it would start an hour early and land the last six rows again.
        insert_orders(writer, table, [(ROWS + 1, ROWS + 1, walls[ROWS] + timedelta(minutes=10))])
        second = run_stages(name, "orders", "scheduled__2026-11-03", datetime(2026, 11, 3, tzinfo=UTC))

    rows = landed_table(second["extract_land"]).to_pylist()
    assert [(r["order_id"], r["updated_at"]) for r in rows] == [(ROWS + 1, high + timedelta(minutes=10))]
    assert second["extract_land"]["watermark_from"] == high.isoformat()
    assert second["extract_land"]["window_bounds"]["cursor_zone"] == "Europe/Berlin"
    checks = {c["name"]: c for c in second["validate"]["checks"]}
    assert checks["reconciliation"]["passed"]
