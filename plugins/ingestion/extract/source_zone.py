"""Timestamps without a zone, from a source that writes them in a known zone (the source's `source_timezone`).

MySQL/MariaDB DATETIME and Postgres `timestamp without time zone` hold wall-clock times: the same text means a
different instant in Berlin and in UTC. The platform works in UTC instants (watermarks, landed files, Kafka), so
such values become instants of the source's zone on the way in (`instant`), and window bounds become wall-clock
times of that zone on the way out (`wall_clock`), which is what the database compares them with.

A wall-clock time in the hour repeated when clocks go back is taken as its earlier instant (Python's `fold=0`,
Arrow's `ambiguous="earliest"`), so a row is never read later than it was written. One in the hour skipped when
clocks go forward (02:30 on a spring-forward night in New York) names no instant: it is taken as the first instant
after the gap, the moment clocks jump (07:00Z, 03:00 EDT; Arrow's `nonexistent="latest"`). The mapping stays
monotonic, so the watermark never passes a wall-clock time not yet read: the next window starts at the gap's start
(`low_wall_clock`) and reads what was written later in the gap, too. Pure: standard library only.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "UTC"


@functools.lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    return UTC if name == DEFAULT_ZONE else ZoneInfo(name)


def instant(value: Any, zone_name: str) -> Any:
    """A zone-less datetime as the aware UTC instant it is in `zone_name`; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is None:
        tz = zone(zone_name)
        taken = value.replace(tzinfo=tz).astimezone(UTC)
        if taken.astimezone(tz).replace(tzinfo=None) != value:  # no such wall-clock time: in a gap
            return _gap_end(value, tz)
        return taken
    return value


def _gap_end(value: datetime, tz: tzinfo) -> datetime:
    """The instant clocks jumped over `value` (a wall-clock time in a gap of `tz`): the first one after the gap.
    It lies between `value` read with the offset after the jump and with the offset before it."""
    low = value.replace(tzinfo=tz, fold=1).astimezone(UTC)  # before the jump, by the later offset
    high = value.replace(tzinfo=tz, fold=0).astimezone(UTC)  # after it, by the earlier offset
    if low > high:
        low, high = high, low
    step = timedelta(microseconds=1)
    while high - low > step:  # `high` is always after the jump: its wall-clock time is past `value`
        middle = low + (high - low) // 2
        if middle.astimezone(tz).replace(tzinfo=None) > value:
            high = middle
        else:
            low = middle
    return high


def wall_clock(value: Any, zone_name: str) -> Any:
    """An aware datetime as the zone-less wall-clock time it is in `zone_name`; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone(zone_name)).replace(tzinfo=None)
    return value


def low_wall_clock(value: Any, zone_name: str) -> Any:
    """`wall_clock` for a window's low bound: the earliest wall-clock time that is `value`. At the end of a gap
    (the instant every wall-clock time in it is taken as) that is the gap's start, so rows written in the gap after
    the watermark reached it are read (the ones already landed there are ties, left out by key)."""
    wall = wall_clock(value, zone_name)
    if isinstance(value, datetime) and value.tzinfo is not None:
        step = timedelta(microseconds=1)
        before = wall_clock(value - step, zone_name) + step
        if before < wall:  # clocks jumped forward at `value`
            return before
    return wall
