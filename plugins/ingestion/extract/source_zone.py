"""Timestamps without a zone, from a source that writes them in a known zone (the source's `source_timezone`).

MySQL/MariaDB DATETIME and Postgres `timestamp without time zone` hold wall-clock times: the same text means a
different instant in Berlin and in UTC. The platform works in UTC instants (watermarks, landed files, Kafka), so
such values become instants of the source's zone on the way in (`instant`), and window bounds become wall-clock
times of that zone on the way out (`wall_clock`), which is what the database compares them with.

A wall-clock time in the hour repeated when clocks go back is taken as its earlier instant (Python's `fold=0`,
Arrow's `ambiguous="earliest"`), so a row is never read later than it was written; one in the hour skipped when
clocks go forward cannot have been written by a clock in that zone. Pure: standard library only.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "UTC"


@functools.lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    return UTC if name == DEFAULT_ZONE else ZoneInfo(name)


def instant(value: Any, zone_name: str) -> Any:
    """A zone-less datetime as the aware UTC instant it is in `zone_name`; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone(zone_name)).astimezone(UTC)
    return value


def wall_clock(value: Any, zone_name: str) -> Any:
    """An aware datetime as the zone-less wall-clock time it is in `zone_name`; anything else unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone(zone_name)).replace(tzinfo=None)
    return value
