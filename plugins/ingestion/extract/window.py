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
    if low is not None and high <= low:
        # The margin can pull the bound below the watermark; reading nothing is right, moving back is not.
        return Window(mode="incremental", low=low, high=low, empty=True)
    if low is not None and lookback and isinstance(low, datetime):
        return Window(mode="incremental", low=low - lookback, high=high, low_inclusive=True)
    if low is not None and lookback and isinstance(low, int):
        return Window(mode="incremental", low=low - int(lookback.total_seconds()), high=high, low_inclusive=True)
    return Window(mode="incremental", low=low, high=high)


def next_watermark(window: Window, previous: Any) -> Any:
    """The watermark after a successful incremental run: the window's high end, never lower than before."""
    if window.mode != "incremental" or window.empty or window.high is None:
        return previous
    if previous is not None and window.high < previous:
        return previous
    return window.high
