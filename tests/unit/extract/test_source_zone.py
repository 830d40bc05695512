"""Zone-less timestamps of a source are wall-clock times of its `source_timezone`: they become UTC instants on the
way in, and window bounds become wall-clock times of that zone on the way out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from sqlalchemy.dialects import mysql, postgresql

from ingestion.extract.arrow_types import localized
from ingestion.extract.source_zone import instant, low_wall_clock, wall_clock
from ingestion.extract.sql_query import select_rows, source_relation, window_for_dialect
from ingestion.extract.window import Window, incremental_window

T0 = datetime(2026, 11, 1, tzinfo=UTC)  # 01:00 in Berlin (CET, UTC+1)
SUMMER = datetime(2026, 7, 1, tzinfo=UTC)  # 02:00 in Berlin (CEST, UTC+2), 20:00 the day before in New York


def test_a_zone_less_value_is_an_instant_of_the_source_zone() -> None:
    assert instant(datetime(2026, 11, 1, 1, 0), "Europe/Berlin") == T0
    assert instant(datetime(2026, 7, 1, 2, 0), "Europe/Berlin") == SUMMER
    assert instant(datetime(2026, 11, 1), "UTC") == T0
    assert instant(T0, "Europe/Berlin") == T0  # a value with a zone keeps it
    assert instant(42, "Europe/Berlin") == 42


def test_an_instant_is_a_wall_clock_time_of_the_source_zone() -> None:
    assert wall_clock(T0, "Europe/Berlin") == datetime(2026, 11, 1, 1, 0)
    assert wall_clock(SUMMER, "America/New_York") == datetime(2026, 6, 30, 20, 0)
    assert wall_clock(None, "Europe/Berlin") is None
    assert wall_clock(7, "Europe/Berlin") == 7


def test_the_hour_repeated_when_clocks_go_back_is_taken_as_its_first_instant() -> None:
    # 2026-10-25 02:30 happens twice in Berlin; the earlier instant (CEST) is taken, so a row is never read late.
    assert instant(datetime(2026, 10, 25, 2, 30), "Europe/Berlin") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_bounds_of_a_zone_less_cursor_are_compared_as_wall_clock_times_of_the_source_zone() -> None:
    window = incremental_window(watermark=T0, max_cursor=T0 + timedelta(hours=1), now=T0 + timedelta(days=1))
    zoned = Window(**{**window.__dict__, "cursor_zone": "Europe/Berlin"})
    for dialect in ("postgresql", "mysql"):
        local = window_for_dialect(zoned, dialect)
        assert (local.low, local.high) == (datetime(2026, 11, 1, 1, 0), datetime(2026, 11, 1, 2, 0))
    # A cursor that carries its zone (Postgres timestamptz) keeps aware bounds; MySQL's are always zone-less.
    assert window_for_dialect(window, "postgresql") == window
    assert window_for_dialect(window, "mysql").low == datetime(2026, 11, 1, 0, 0)


def test_the_statement_binds_the_wall_clock_bounds() -> None:
    relation = source_relation(table_name="orders", schema=None, query=None)
    window = Window(mode="incremental", low=T0, high=SUMMER, low_inclusive=True, cursor_zone="Europe/Berlin")
    for dialect in (postgresql.dialect(), mysql.dialect()):
        compiled = select_rows(relation, ["id"], "updated_at", window_for_dialect(window, dialect.name)).compile(
            dialect=dialect
        )
        assert sorted(compiled.params.values()) == [datetime(2026, 7, 1, 2, 0), datetime(2026, 11, 1, 1, 0)]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata", "UTC"])
def test_zone_less_arrow_timestamps_land_as_utc_instants(zone: str) -> None:
    naive = pa.array([datetime(2026, 11, 1, 1, 0), None, datetime(2026, 7, 1, 2, 0)], pa.timestamp("us"))
    field = pa.field("updated_at", pa.timestamp("us", tz="UTC"))
    landed = localized(naive, field.type, zone)
    assert landed.type == field.type
    expected = [instant(v, zone) if v is not None else None for v in naive.to_pylist()]
    assert landed.to_pylist() == expected


def test_values_with_a_zone_and_zone_less_landing_types_are_left_alone() -> None:
    aware = pa.array([T0], pa.timestamp("us", tz="UTC"))
    assert localized(aware, aware.type, "Europe/Berlin").equals(aware)
    naive = pa.array([datetime(2026, 11, 1, 1, 0)], pa.timestamp("us"))
    assert localized(naive, pa.timestamp("us"), "Europe/Berlin").equals(naive)  # declared timestamp_ntz
    ints = pa.array([1, 2], pa.int64())
    assert localized(ints, pa.int64(), "Europe/Berlin").equals(ints)


GAPS = [  # a wall-clock time skipped when clocks go forward, and the instant clocks jumped
    ("America/New_York", datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 3, 29, 2, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 4, 2, 15), datetime(2026, 10, 3, 15, 30, tzinfo=UTC)),  # 30 minutes
]


@pytest.mark.parametrize(("zone", "wall", "jump"), GAPS)
def test_a_wall_clock_time_in_the_spring_forward_gap_is_the_first_instant_after_it(
    zone: str, wall: datetime, jump: datetime
) -> None:
    assert instant(wall, zone) == jump
    assert instant(wall.replace(fold=1), zone) == jump
    landed = localized(pa.array([wall], pa.timestamp("us")), pa.timestamp("us", tz="UTC"), zone)
    assert landed.to_pylist() == [jump]  # landed value and watermark are one
    # Monotonic: no wall-clock time after `wall` is taken as an earlier instant, none before it as a later one.
    step = timedelta(microseconds=1)
    assert instant(jump.astimezone(ZoneInfo(zone)).replace(tzinfo=None), zone) == jump
    assert instant(wall - timedelta(minutes=1), zone) <= jump
    assert instant(wall + step, zone) == jump
    assert instant(wall_clock(jump - step, zone), zone) == jump - step


@pytest.mark.parametrize(("zone", "wall", "jump"), GAPS)
def test_a_low_bound_at_the_end_of_a_gap_is_compared_from_the_gaps_start(
    zone: str, wall: datetime, jump: datetime
) -> None:
    start = wall_clock(jump - timedelta(microseconds=1), zone) + timedelta(microseconds=1)
    assert start <= wall
    window = Window(mode="incremental", low=jump, high=jump, low_inclusive=True, cursor_zone=zone)
    local = window_for_dialect(window, "mysql")
    assert (local.low, local.high) == (start, wall_clock(jump, zone))
    assert low_wall_clock(jump + timedelta(microseconds=1), zone) == wall_clock(jump + timedelta(microseconds=1), zone)


def test_a_low_bound_in_the_repeated_hour_is_unchanged() -> None:
    back = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # Berlin: 03:00 CEST becomes 02:00 CET
    for value in (back, back - timedelta(microseconds=1), back + timedelta(minutes=30)):
        assert low_wall_clock(value, "Europe/Berlin") == wall_clock(value, "Europe/Berlin")
