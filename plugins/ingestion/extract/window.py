"""Which slice of the source a run reads. Pure: no I/O, no Airflow, so every rule here is unit-tested.

- full: everything.
- incremental: `[watermark, high]`. The low end is inclusive so that rows committed after the last run with a cursor
  equal to its high mark are read; the rows that run already landed at that value are left out by primary key
  (`leaves_out_published_ties`, pipeline/boundary_ties.py), so a tie is neither lost nor sent twice.
  - timestamp cursors: `high = min(max cursor at start, now - safety margin)`; the margin leaves alone rows whose
    transactions may still be committing with earlier cursor values. `lookback` (minutes) moves the low end down
    by it, so rows that arrived late below the old high mark are read again (and sent again: at-least-once).
  - integer cursors (ids, sequences, versions): `high = max cursor at start`; a time margin means nothing for ids.
    A row that commits after the run with an id below that high is below the next window: only `lookback_ids`
    (in cursor units) reads it.
  - a zone-less timestamp cursor (MySQL DATETIME, Postgres `timestamp without time zone`) holds wall-clock times of
    the source's zone (`cursor_zone`): extract turns its values into UTC instants and the bounds back into
    wall-clock times of that zone (extract/source_zone.py).
- interval: `[data_interval_start, data_interval_end)` of the run; the watermark is neither read nor moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ingestion.extract.errors import LookbackUnitError
from ingestion.state import watermark_values

if TYPE_CHECKING:
    from ingestion.json_types import JsonObject, JsonReader

Mode = Literal["full", "incremental", "interval"]
MODES: tuple[Mode, ...] = ("full", "incremental", "interval")


@dataclass(frozen=True)
class Window:
    mode: Mode
    low: Any = None  # None: unbounded below
    high: Any = None  # None: unbounded above
    low_inclusive: bool = False
    high_inclusive: bool = True
    empty: bool = False  # nothing new at the source: skip the read, keep the watermark
    # The IANA zone of a cursor whose values carry no zone: its bounds are compared as wall-clock times of it.
    # None: the cursor's values carry their zone (or are not timestamps).
    cursor_zone: str | None = None

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


@dataclass(frozen=True)
class WindowBounds:
    """A window as a manifest keeps it: its bounds as watermark text with their type, so a later stage (validate's
    reconciliation) can count the same rows at the source."""

    mode: Mode
    low: str | None
    high: str | None
    low_inclusive: bool
    high_inclusive: bool
    empty: bool
    value_type: str
    cursor_zone: str | None = None

    @classmethod
    def of(cls, window: Window) -> WindowBounds:
        bound = window.low if window.low is not None else window.high
        return cls(
            mode=window.mode,
            low=watermark_values.encode(window.low),
            high=watermark_values.encode(window.high),
            low_inclusive=window.low_inclusive,
            high_inclusive=window.high_inclusive,
            empty=window.empty,
            value_type=watermark_values.cursor_type(bound if bound is not None else ""),
            cursor_zone=window.cursor_zone,
        )

    def window(self) -> Window:
        return Window(
            mode=self.mode,
            low=watermark_values.decode(self.low, self.value_type),
            high=watermark_values.decode(self.high, self.value_type),
            low_inclusive=self.low_inclusive,
            high_inclusive=self.high_inclusive,
            empty=self.empty,
            cursor_zone=self.cursor_zone,
        )

    def to_json(self) -> JsonObject:
        return {
            "mode": self.mode,
            "low": self.low,
            "high": self.high,
            "low_inclusive": self.low_inclusive,
            "high_inclusive": self.high_inclusive,
            "empty": self.empty,
            "value_type": self.value_type,
            "cursor_zone": self.cursor_zone,
        }

    @classmethod
    def from_json(cls, fields: JsonReader) -> WindowBounds:
        from ingestion.errors import StageResultError

        mode = fields.text("mode")
        if mode not in MODES:
            raise StageResultError(f"{fields.what}: mode {mode!r} is not one of {', '.join(MODES)}")
        return cls(
            mode=mode,
            low=fields.optional_text("low"),
            high=fields.optional_text("high"),
            low_inclusive=fields.flag("low_inclusive"),
            high_inclusive=fields.flag("high_inclusive"),
            empty=fields.flag("empty"),
            value_type=fields.text("value_type"),
            cursor_zone=fields.optional_text("cursor_zone"),  # manifests written before zones were named: None
        )


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
    lookback_ids: int = 0,
    full_refresh: bool = False,
) -> Window:
    """The window of an incremental run. `max_cursor` is the source's max(cursor) read when the run starts; the
    watermark and the cursor values are comparable (timestamps aware, in UTC)."""
    if max_cursor is None:  # an empty source
        return Window(mode="incremental", low=watermark, high=watermark, empty=True)
    high = max_cursor
    if isinstance(max_cursor, datetime):
        high = min(max_cursor, now - safety_margin)
    low = None if full_refresh else watermark
    reread_from = lowered_by_lookback(low if low is not None else max_cursor, lookback, lookback_ids)
    if low is None:
        return Window(mode="incremental", low=None, high=high)
    if high < low:
        # The source's newest row is below the watermark, or the margin pulled the bound below it: never move back.
        # With a lookback, still re-read [low - lookback, low], or a row that arrives late while the source is
        # otherwise quiet would wait for the next new row to be seen.
        if reread_from is not None:
            return Window(mode="incremental", low=reread_from, high=low, low_inclusive=True)
        return Window(mode="incremental", low=low, high=low, empty=True)
    if reread_from is not None:
        return Window(mode="incremental", low=reread_from, high=high, low_inclusive=True)
    # Inclusive even when high == low: rows tied with the watermark may have been committed since the last run.
    return Window(mode="incremental", low=low, high=high, low_inclusive=True)


def lowered_by_lookback(value: Any, lookback: timedelta, lookback_ids: int) -> Any:
    """`value` moved down by the lookback in the cursor's unit, or None without one. `value` tells the cursor's
    type (the watermark, or on a first run the max cursor); a lookback in the other unit is refused."""
    if not lookback and not lookback_ids:
        return None
    if isinstance(value, datetime):
        if lookback_ids:
            raise LookbackUnitError(
                "lookback_ids is for integer cursors; this cursor is a timestamp: use lookback_minutes"
            )
        return value - lookback
    if isinstance(value, int) and not isinstance(value, bool):
        if lookback:
            raise LookbackUnitError(
                "lookback_minutes is for timestamp cursors; this cursor is an integer: use lookback_ids"
            )
        return value - lookback_ids
    unit = "lookback_minutes is for timestamp cursors" if lookback else "lookback_ids is for integer cursors"
    raise LookbackUnitError(
        f"{unit}; this cursor is text ({type(value).__name__}): a lookback needs a timestamp or integer"
    )


def leaves_out_published_ties(window: Window, watermark: Any) -> bool:
    """Whether the window starts at the watermark itself, inclusively: then the rows tied with it that the run which
    set it already landed must be left out (by primary key). Windows from a lookback re-send what they re-read."""
    return (
        window.mode == "incremental"
        and not window.empty
        and watermark is not None
        and window.low_inclusive
        and window.low == watermark
    )


def next_watermark(window: Window, previous: Any) -> Any:
    """The watermark after a successful incremental run: the window's high end, never lower than before."""
    if window.mode != "incremental" or window.empty or window.high is None:
        return previous
    if previous is not None and window.high < previous:
        return previous
    return window.high
