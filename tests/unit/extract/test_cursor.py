"""The one cursor of every kind of source: which watermark a run starts from, its windows, where it moves to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.config.models import LoadMode
from ingestion.extract.cursor import Cursor, WatermarkMove
from ingestion.extract.errors import CursorConfigError
from ingestion.extract.window import WindowBounds
from ingestion.state.store import Watermark

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 5, tzinfo=UTC)


def _mark(value: str, value_type: str = "timestamp") -> Watermark:
    return Watermark("s", "e", value, value_type, "run-1", NOW)


def _load(mode: str = "incremental", **fields: object) -> LoadMode:
    return LoadMode.model_validate({"mode": mode, "cursor_column": "updated_at", **fields})


def test_rows_read_the_stored_watermark_only_when_incremental() -> None:
    mark = _mark(T0.isoformat())
    assert Cursor.for_rows(_load(), mark, full_refresh=False, where="s.e").start == T0
    assert Cursor.for_rows(_load("interval"), mark, full_refresh=False, where="s.e").start is None
    assert Cursor.for_rows(_load("full"), mark, full_refresh=False, where="s.e").start is None
    # Files keep the newest mtime in every mode; a full load or refresh takes every file.
    files = Cursor.for_files(_load("full"), mark, full_refresh=False, where="s.e")
    assert (files.start, files.full_refresh) == (T0, True)


def test_a_known_high_end_is_cut_with_the_safety_margin_and_the_watermark_moves_to_it() -> None:
    cursor = Cursor.for_rows(_load(safety_margin_seconds=60), _mark(T0.isoformat()), full_refresh=False, where="s.e")
    window = cursor.incremental_window(max_cursor=NOW, now=NOW)
    assert (window.low, window.high, window.low_inclusive) == (T0, NOW - timedelta(seconds=60), True)
    assert not cursor.learns_high(window)
    assert cursor.next_value(window, highest_landed=NOW + timedelta(days=1)) == NOW - timedelta(seconds=60)


def test_an_open_window_starts_below_the_watermark_by_the_lookback_and_learns_its_high_end() -> None:
    cursor = Cursor.for_rows(_load(lookback_minutes=30), _mark(T0.isoformat()), full_refresh=False, where="s.e")
    window = cursor.open_window()
    assert (window.low, window.high, window.low_inclusive) == (T0 - timedelta(minutes=30), None, True)
    assert cursor.learns_high(window)
    assert cursor.next_value(window, highest_landed=T0 - timedelta(minutes=5)) == T0  # never moves back
    assert cursor.next_value(window, highest_landed=T0 + timedelta(hours=1)) == T0 + timedelta(hours=1)
    refresh = Cursor.for_rows(_load(lookback_minutes=30), _mark(T0.isoformat()), full_refresh=True, where="s.e")
    assert refresh.open_window().low is None
    assert refresh.start == T0  # commit still expects the watermark the run started from


def test_a_lookback_in_the_other_unit_is_refused_naming_the_entity() -> None:
    cursor = Cursor.for_rows(_load(lookback_ids=5), _mark(T0.isoformat()), full_refresh=False, where="s.e")
    with pytest.raises(CursorConfigError, match=r"^s\.e: load\.lookback_ids is for integer cursors"):
        cursor.open_window()
    with pytest.raises(CursorConfigError, match=r"^s\.e: load\.lookback_ids is for integer cursors"):
        cursor.incremental_window(max_cursor=NOW, now=NOW)


def test_the_move_is_stored_as_text_with_its_type() -> None:
    rows = Cursor.for_rows(_load(), _mark("41", "integer"), full_refresh=False, where="s.e")
    assert rows.move(42) == WatermarkMove("41", "42", "integer")
    nothing = Cursor.for_rows(_load("full"), None, full_refresh=False, where="s.e")
    assert nothing.move(None) == WatermarkMove(None, None, "string")
    files = Cursor.for_files(_load(), None, full_refresh=False, where="s.e")
    assert files.move(None) == WatermarkMove(None, None, "timestamp")
    assert files.advanced(T0) == T0


def test_window_bounds_keep_the_window_for_a_later_stage() -> None:
    cursor = Cursor.for_rows(_load(), _mark("10", "integer"), full_refresh=False, where="s.e")
    window = cursor.incremental_window(max_cursor=20, now=NOW)
    bounds = WindowBounds.of(window)
    assert (bounds.low, bounds.high, bounds.value_type) == ("10", "20", "integer")
    assert bounds.window() == window
