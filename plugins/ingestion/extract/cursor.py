"""The cursor of one run of an entity: the watermark it starts from, the window cut from it, the value it moves to.

One object for every kind of source (SQL, REST, files), built from the entity's `load` settings and its stored
watermark. It owns what used to be rebuilt per kind:

- decoding the stored watermark (text and type, state/watermark_values) and encoding values back for the manifest;
- the lookback (minutes below a timestamp, ids below an integer; the other unit is refused) and the safety margin;
- the windows of the load modes (the pure rules are in extract/window.py);
- the value the watermark moves to after the run: the window's high end when it was known before the read (SQL),
  else the highest cursor value landed (REST), or the newest file loaded (files).

Row sources read the watermark only in `incremental` mode; file sources read it in every mode (the newest mtime
loaded, for status and audits; which files are new is the processed-file list's business).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingestion.extract.errors import CursorConfigError, LookbackUnitError
from ingestion.extract.window import (
    Mode,
    Window,
    full_window,
    incremental_window,
    interval_window,
    lowered_by_lookback,
    next_watermark,
)
from ingestion.state import watermark_values

if TYPE_CHECKING:
    import pyarrow as pa

    from ingestion.config.models import LoadMode
    from ingestion.state.store import Watermark


def advanced(previous: Any, seen: Any) -> Any:
    """A high mark after seeing `seen`: the larger of the two, ignoring None (never moves back)."""
    if seen is None or (previous is not None and seen <= previous):
        return previous
    return seen


@dataclass(frozen=True)
class WatermarkMove:
    """The watermark a run starts from and the one its commit moves to, as stored (text and type)."""

    start: str | None
    end: str | None
    value_type: str


@dataclass(frozen=True)
class Cursor:
    mode: Mode
    column: str | None  # None for files (their mtime is the cursor)
    start: Any  # the watermark the run starts from, decoded; None when there is none (or the mode reads none)
    safety_margin: timedelta = timedelta(0)
    lookback: timedelta = timedelta(0)
    lookback_ids: int = 0
    full_refresh: bool = False
    where: str = ""  # source.entity, for errors
    value_type: str | None = None  # the stored type when it is fixed (files: timestamp); None: from the values

    @classmethod
    def for_rows(cls, load: LoadMode, mark: Watermark | None, *, full_refresh: bool, where: str) -> Cursor:
        """A row source's cursor (SQL, REST): the stored watermark counts only for incremental loads."""
        start = _decoded(mark) if load.mode == "incremental" else None
        return cls(
            mode=load.mode,
            column=load.cursor_column,
            start=start,
            safety_margin=timedelta(seconds=load.safety_margin_seconds),
            lookback=timedelta(minutes=load.lookback_minutes),
            lookback_ids=load.lookback_ids,
            full_refresh=full_refresh,
            where=where,
        )

    @classmethod
    def for_files(cls, load: LoadMode, mark: Watermark | None, *, full_refresh: bool, where: str) -> Cursor:
        """A file source's cursor: the newest mtime loaded, whatever the mode."""
        return cls(
            mode=load.mode,
            column=None,
            start=_decoded(mark),
            full_refresh=full_refresh or load.mode == "full",
            where=where,
            value_type="timestamp",
        )

    # -- windows ---------------------------------------------------------------------------------------------

    def full_window(self) -> Window:
        return full_window()

    def interval_window(self, start: datetime, end: datetime) -> Window:
        return interval_window(start, end)

    def incremental_window(self, *, max_cursor: Any, now: datetime) -> Window:
        """`[watermark, min(max cursor, now - margin)]` (less the lookback): the source's max cursor is known."""
        try:
            return incremental_window(
                watermark=self.start,
                max_cursor=max_cursor,
                now=now,
                safety_margin=self.safety_margin,
                lookback=self.lookback,
                lookback_ids=self.lookback_ids,
                full_refresh=self.full_refresh,
            )
        except LookbackUnitError as error:
            raise self._config_error(error) from None

    def open_window(self) -> Window:
        """`[watermark (less the lookback), +inf)`: the source is asked for everything from the watermark on and its
        high end is learnt from what it returns. The low end is inclusive: the rows tied with the watermark that the
        run which set it landed are left out by key (pipeline/boundary_ties.py)."""
        low = None if self.full_refresh else self.start
        if low is not None and (self.lookback or self.lookback_ids):
            try:
                low = lowered_by_lookback(low, self.lookback, self.lookback_ids)
            except LookbackUnitError as error:
                raise self._config_error(error) from None
        return Window(mode="incremental", low=low, high=None, low_inclusive=True)

    def learns_high(self, window: Window) -> bool:
        """Whether the window's high end is learnt from the rows landed (see `next_value`)."""
        return window.mode == "incremental" and not window.empty and window.high is None

    # -- where the watermark goes ----------------------------------------------------------------------------

    def next_value(self, window: Window, highest_landed: Any = None) -> Any:
        """The watermark after the run: the window's high end when it was known before the read, else the highest
        value landed; never lower than before. Windows of other modes leave it where it was."""
        if window.mode != "incremental":
            return self.start
        if self.learns_high(window):
            return advanced(self.start, highest_landed)
        return next_watermark(window, self.start)

    def advanced(self, seen: Any) -> Any:
        return advanced(self.start, seen)

    def move(self, new_value: Any) -> WatermarkMove:
        """The run's watermark move as stored: encoded values and their type."""
        value_type = self.value_type or watermark_values.cursor_type(new_value if new_value is not None else "")
        return WatermarkMove(watermark_values.encode(self.start), watermark_values.encode(new_value), value_type)

    @staticmethod
    def encode(value: Any) -> str | None:
        return watermark_values.encode(value)

    def _config_error(self, error: LookbackUnitError) -> CursorConfigError:
        return CursorConfigError(f"{self.where}: load.{error}")


def _decoded(mark: Watermark | None) -> Any:
    return watermark_values.decode(mark.value, mark.value_type) if mark is not None else None


class HighMark:
    """The highest cursor value among the rows a run landed (a REST run learns its window's high end this way)."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.value: Any = None

    def note(self, batch: pa.RecordBatch) -> None:
        import pyarrow.compute as pc

        if batch.num_rows:
            self.value = advanced(self.value, pc.max(batch.column(self.column)).as_py())
