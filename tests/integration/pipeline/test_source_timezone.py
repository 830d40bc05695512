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


def _incremental_source(database: str, table: str, zone: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table as an incremental entity (cursor updated_at) of a source whose zone-less times are `zone`'s."""
    entity = sql_entity(database, table, {"mode": "incremental", "cursor_column": "updated_at"})
    config = source_config(
        table.removesuffix("_orders"),
        "sql",
        DATABASES[database]["conn_id"],
        [entity],
        retries={"count": 0},
        source_timezone=zone,
    )
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_zone_less_timestamps_are_wall_clock_times_of_the_source_zone(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"z{uuid.uuid4().hex[:8]}_orders"
    name = table.removesuffix("_orders")
    walls = {i: WALL + timedelta(minutes=10 * i) for i in range(1, ROWS + 1)}
    with orders_table(database, table, zone_less=True) as writer:
        insert_orders(writer, table, [(i, i, wall) for i, wall in walls.items()])
        _incremental_source(database, table, "Europe/Berlin", tmp_path, monkeypatch)

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


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_a_wall_clock_time_in_the_spring_forward_gap_never_moves_the_watermark_past_unread_rows(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """02:30 does not exist in New York on 2026-03-08. It lands, and becomes the watermark, as the end of the gap
    (07:00Z, 03:00 EDT): taken as 07:30Z (03:30 EDT), the next window started past a row written at 03:15."""
    table = f"z{uuid.uuid4().hex[:8]}_orders"
    name = table.removesuffix("_orders")
    gap_end = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    with orders_table(database, table, zone_less=True) as writer:
        insert_orders(writer, table, [(1, 1, datetime(2026, 3, 8, 1, 50)), (2, 2, datetime(2026, 3, 8, 2, 30))])
        _incremental_source(database, table, "America/New_York", tmp_path, monkeypatch)

        first = run_stages(name, "orders", "scheduled__2026-03-09", datetime(2026, 3, 9, tzinfo=UTC))
        landed = {r["order_id"]: r["updated_at"] for r in landed_table(first["extract_land"]).to_pylist()}
        assert landed == {1: datetime(2026, 3, 8, 6, 50, tzinfo=UTC), 2: gap_end}
        assert first["extract_land"]["watermark_to"] == gap_end.isoformat()

        # 02:45 (also in the gap, written late), 03:15 and 04:00 EDT: all after what the first run read.
        later = [(3, 3, datetime(2026, 3, 8, 3, 15)), (4, 4, datetime(2026, 3, 8, 4, 0))]
        insert_orders(writer, table, [(5, 5, datetime(2026, 3, 8, 2, 45)), *later])
        second = run_stages(name, "orders", "scheduled__2026-03-10", datetime(2026, 3, 10, tzinfo=UTC))

    rows = {r["order_id"]: r["updated_at"] for r in landed_table(second["extract_land"]).to_pylist()}
    assert rows == {
        3: datetime(2026, 3, 8, 7, 15, tzinfo=UTC),
        4: datetime(2026, 3, 8, 8, 0, tzinfo=UTC),
        5: gap_end,
    }
    assert second["extract_land"]["watermark_from"] == gap_end.isoformat()
    checks = {c["name"]: c for c in second["validate"]["checks"]}
    assert checks["reconciliation"]["passed"]
