"""Which slice of the source a run reads. Pure: no I/O, no Airflow, so every rule here is unit-tested.

- full: everything.
- incremental: rows after the watermark, up to `min(max cursor at start, now - safety margin)`; the margin leaves
  alone rows whose transactions may still be committing with earlier cursor values. With a lookback, the low end
  moves down by it and becomes inclusive, so rows that arrived late below the old high mark are read again.
- interval: `[data_interval_start, data_interval_end)` of the run; the watermark is neither read nor moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Mode = Literal["full", "incremental", "interval"]


@dataclass(frozen=True)
class Window:
    mode: Mode
    low: Any = None  # None: unbounded below
    high: Any = None  # None: unbounded above
    low_inclusive: bool = False
    high_inclusive: bool = True
    empty: bool = False  # nothing new at the source: skip the read, keep the watermark

    def describe(self) -> str:
        if self.empty:
            return "empty (nothing new at the source)"
        if self.low is None and self.high is None:
            return "everything"
        left = "[" if self.low_inclusive else "("
        right = "]" if self.high_inclusive else ")"
        low = "-inf" if self.low is None else _text(self.low)
        high = "+inf" if self.high is None else _text(self.high)
        return f"{left}{low}, {high}{right}"


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def full_window() -> Window:
    return Window(mode="full")


def latest_complete_interval(schedule: str, at: datetime) -> tuple[datetime, datetime]:
    """The last whole schedule period ending at or before `at`: the window of a run that has no data interval
    of its own (one triggered without a logical date), matching what a scheduled run at that time would read."""
    from croniter import croniter

    ticks = croniter(schedule, at)
    end = ticks.get_prev(datetime)
    return ticks.get_prev(datetime), end


def interval_window(start: datetime, end: datetime) -> Window:
    if end <= start:
        raise ValueError(f"data interval end {end} is not after its start {start}")
    return Window(mode="interval", low=start, high=end, low_inclusive=True, high_inclusive=False)


def incremental_window(
    *,
    watermark: Any,
    max_cursor: Any,
    now: datetime,
    safety_margin: timedelta = timedelta(0),
    lookback: timedelta = timedelta(0),
    full_refresh: bool = False,
) -> Window:
    """The window of an incremental run. `max_cursor` is the source's max(cursor) read when the run starts."""
    if max_cursor is None:  # an empty source
        return Window(mode="incremental", low=watermark, high=watermark, empty=True)
    high = max_cursor
    if isinstance(max_cursor, datetime):
        high = min(max_cursor, now - safety_margin)
    low = None if full_refresh else watermark
    reread_from = _minus_lookback(low, lookback)
    if low is not None and high <= low:
        # Nothing above the watermark (or the margin pulled the bound below it): never move back. With a lookback,
        # still re-read [low - lookback, low], or a row that arrives late while the source is otherwise quiet
        # would wait for the next new row to be seen.
        if reread_from is not None:
            return Window(mode="incremental", low=reread_from, high=low, low_inclusive=True)
        return Window(mode="incremental", low=low, high=low, empty=True)
    if reread_from is not None:
        return Window(mode="incremental", low=reread_from, high=high, low_inclusive=True)
    return Window(mode="incremental", low=low, high=high)


def _minus_lookback(low: Any, lookback: timedelta) -> Any:
    """The low end moved down by the lookback (seconds for integer cursors), or None without one."""
    if low is None or not lookback:
        return None
    if isinstance(low, datetime):
        return low - lookback
    if isinstance(low, int):
        return low - int(lookback.total_seconds())
    return None


def next_watermark(window: Window, previous: Any) -> Any:
    """The watermark after a successful incremental run: the window's high end, never lower than before."""
    if window.mode != "incremental" or window.empty or window.high is None:
        return previous
    if previous is not None and window.high < previous:
        return previous
    return window.high
