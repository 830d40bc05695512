"""Schedules in words ("every 30 minutes", "daily at 02:00 UTC") for runbooks and the source inventory."""

from __future__ import annotations

import functools
import itertools
import re
from datetime import UTC, datetime, timedelta

from ingestion.config.models import SCHEDULE_PRESETS

PRESETS = {
    "@once": "once",
    "@hourly": "hourly, on the hour",
    "@daily": "daily at 00:00 UTC",
    "@weekly": "weekly, Sunday 00:00 UTC",
    "@monthly": "monthly, on the 1st at 00:00 UTC",
    "@yearly": "yearly, on 1 January at 00:00 UTC",
    "@continuous": "continuously, one run after another",
}
assert set(PRESETS) == SCHEDULE_PRESETS, "every schedule preset a config may use needs words"
# A fixed reference point, so the same cron always gets the same words.
_REFERENCE = datetime(2026, 1, 5, tzinfo=UTC)


def _amount(delta: timedelta) -> tuple[int, str]:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            return seconds // size, unit
    return seconds, "second"


def _words(delta: timedelta) -> str:
    count, unit = _amount(delta)
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _span(delta: timedelta) -> str:
    count, unit = _amount(delta)
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


_NUMBER = re.compile(r"^\d{1,2}$")
_EVERY = re.compile(r"^\*/(\d{1,2})$")


def _common_cron(schedule: str) -> str | None:
    """Words for the cron shapes most sources use, without croniter (which costs ~1 ms per schedule)."""
    fields = schedule.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"]:
        return None
    minute, hour = fields[0], fields[1]
    if _NUMBER.match(minute) and int(minute) < 60:
        if _NUMBER.match(hour) and int(hour) < 24:
            return f"daily at {int(hour):02d}:{int(minute):02d} UTC"
        if hour == "*":
            return f"hourly at minute {int(minute)}"
        if (every := _EVERY.match(hour)) and 24 % int(every[1]) == 0:
            hours = int(every[1])
            return f"hourly at minute {int(minute)}" if hours == 1 else f"every {hours} hours"
    if hour == "*" and (every := _EVERY.match(minute)) and 60 % int(every[1]) == 0:
        minutes = int(every[1])
        return "every minute" if minutes == 1 else f"every {minutes} minutes"
    return None


@functools.lru_cache(maxsize=1024)
def refresh_frequency(schedule: str | None) -> str:
    """How often data is refreshed, in words."""
    if schedule is None:
        return "manual only (no schedule)"
    if schedule in PRESETS:
        return PRESETS[schedule]
    if (words := _common_cron(schedule)) is not None:
        return words
    from croniter import croniter

    it = croniter(schedule, _REFERENCE)
    fires = [it.get_next(datetime) for _ in range(8)]
    gaps = {b - a for a, b in itertools.pairwise(fires)}
    if len(gaps) == 1:
        gap = gaps.pop()
        if gap == timedelta(days=1):
            return f"daily at {fires[0]:%H:%M} UTC"
        if gap == timedelta(hours=1):
            return f"hourly at minute {fires[0].minute}"
        return _span(gap)
    return f"on cron `{schedule}` (irregular: {_words(min(gaps))} to {_words(max(gaps))} apart)"
