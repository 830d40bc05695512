"""Window rules of the three load modes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.extract.errors import LookbackUnitError
from ingestion.extract.window import incremental_window, interval_window, leaves_out_published_ties, next_watermark

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 5, 12, tzinfo=UTC)


def test_upper_bound_is_max_cursor_when_it_is_older_than_now_minus_margin() -> None:
    w = incremental_window(
        watermark=T0, max_cursor=T0 + timedelta(days=1), now=NOW, safety_margin=timedelta(seconds=60)
    )
    # The low end is inclusive: rows tied with the watermark are read (the published ones are left out by key).
    assert (w.low, w.high, w.low_inclusive, w.high_inclusive) == (T0, T0 + timedelta(days=1), True, True)
    assert leaves_out_published_ties(w, T0)


def test_upper_bound_is_now_minus_margin_when_the_source_has_fresher_rows() -> None:
    margin = timedelta(seconds=60)
    w = incremental_window(watermark=T0, max_cursor=NOW, now=NOW, safety_margin=margin)
    assert w.high == NOW - margin
    assert next_watermark(w, T0) == NOW - margin


def test_lookback_reads_below_the_watermark_inclusively() -> None:
    w = incremental_window(watermark=T0, max_cursor=T0 + timedelta(hours=1), now=NOW, lookback=timedelta(minutes=30))
    assert (w.low, w.low_inclusive) == (T0 - timedelta(minutes=30), True)
    assert w.describe() == "[2026-10-31T23:30:00+00:00, 2026-11-01T01:00:00+00:00]"


def test_integer_cursor_ignores_the_time_margin() -> None:
    w = incremental_window(watermark=100, max_cursor=250, now=NOW, safety_margin=timedelta(hours=1))
    assert (w.low, w.high, w.low_inclusive) == (100, 250, True)
    assert next_watermark(w, 100) == 250


def test_first_run_and_full_refresh_read_from_the_start() -> None:
    first = incremental_window(watermark=None, max_cursor=T0, now=NOW)
    assert (first.low, first.high) == (None, T0)
    refresh = incremental_window(watermark=T0, max_cursor=T0 + timedelta(days=1), now=NOW, full_refresh=True)
    assert refresh.low is None


@pytest.mark.parametrize(
    ("watermark", "max_cursor", "now"),
    [
        (T0, None, NOW),  # empty source
        (T0, T0 - timedelta(days=1), NOW),  # the source's newest row is older than the watermark (rows deleted)
        (NOW - timedelta(seconds=10), NOW, NOW),  # only rows inside the safety margin
    ],
)
def test_nothing_new_is_an_empty_window_that_keeps_the_watermark(
    watermark: datetime, max_cursor: object, now: datetime
) -> None:
    w = incremental_window(watermark=watermark, max_cursor=max_cursor, now=now, safety_margin=timedelta(seconds=60))
    assert w.empty
    assert next_watermark(w, watermark) == watermark


def test_interval_window_is_half_open_and_never_moves_the_watermark() -> None:
    w = interval_window(T0, T0 + timedelta(days=1))
    assert (w.low_inclusive, w.high_inclusive) == (True, False)
    assert next_watermark(w, "live") == "live"
    with pytest.raises(ValueError, match="is not after its start"):
        interval_window(T0, T0)


def test_with_a_lookback_a_quiet_source_still_rereads_the_lookback_for_late_rows() -> None:
    # max(cursor) has not moved past the watermark, but a late row may have landed just below it.
    w = incremental_window(watermark=T0, max_cursor=T0, now=NOW, lookback=timedelta(minutes=30))
    assert not w.empty
    assert (w.low, w.high, w.low_inclusive) == (T0 - timedelta(minutes=30), T0, True)
    assert next_watermark(w, T0) == T0  # never moves back, and not forward either


def test_lookback_on_an_integer_cursor_is_in_cursor_units() -> None:
    w = incremental_window(watermark=100, max_cursor=100, now=NOW, lookback_ids=5)
    assert (w.low, w.high, w.low_inclusive) == (95, 100, True)
    assert not leaves_out_published_ties(w, 100)  # a lookback re-sends what it re-reads, ties included


def test_nothing_newer_than_the_watermark_still_reads_the_rows_tied_with_it() -> None:
    # Rows committed after the last run with a cursor equal to its high mark: read, not skipped.
    w = incremental_window(watermark=T0, max_cursor=T0, now=NOW)
    assert not w.empty
    assert (w.low, w.high, w.low_inclusive, w.high_inclusive) == (T0, T0, True, True)
    assert w.describe() == "[2026-11-01T00:00:00+00:00, 2026-11-01T00:00:00+00:00]"
    assert leaves_out_published_ties(w, T0)
    assert next_watermark(w, T0) == T0


def test_first_runs_and_lookbacks_leave_nothing_out() -> None:
    assert not leaves_out_published_ties(incremental_window(watermark=None, max_cursor=T0, now=NOW), None)
    refresh = incremental_window(watermark=T0, max_cursor=T0 + timedelta(days=1), now=NOW, full_refresh=True)
    assert not leaves_out_published_ties(refresh, T0)
    looked_back = incremental_window(
        watermark=T0, max_cursor=T0 + timedelta(days=1), now=NOW, lookback=timedelta(minutes=5)
    )
    assert not leaves_out_published_ties(looked_back, T0)
    assert not leaves_out_published_ties(interval_window(T0, T0 + timedelta(days=1)), T0)


@pytest.mark.parametrize(
    ("watermark", "max_cursor", "lookback", "lookback_ids", "message"),
    [
        (100, 200, timedelta(minutes=5), 0, "lookback_minutes is for timestamp cursors; .* integer: use lookback_ids"),
        (T0, T0 + timedelta(days=1), timedelta(0), 5, "lookback_ids is for integer cursors; .* timestamp"),
        ("a", "b", timedelta(minutes=5), 0, "lookback_minutes is for timestamp cursors; .* text"),
    ],
)
def test_a_lookback_in_the_wrong_unit_for_the_cursor_is_refused(
    watermark: object, max_cursor: object, lookback: timedelta, lookback_ids: int, message: str
) -> None:
    with pytest.raises(LookbackUnitError, match=message):
        incremental_window(
            watermark=watermark, max_cursor=max_cursor, now=NOW, lookback=lookback, lookback_ids=lookback_ids
        )


def test_a_run_without_a_data_interval_reads_the_last_whole_period() -> None:
    from ingestion.extract.window import latest_complete_interval

    at = datetime(2026, 11, 22, 5, 49, tzinfo=UTC)
    assert latest_complete_interval("@daily", at) == (
        datetime(2026, 11, 21, tzinfo=UTC),
        datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert latest_complete_interval("15 * * * *", at) == (
        datetime(2026, 11, 22, 4, 15, tzinfo=UTC),
        datetime(2026, 11, 22, 5, 15, tzinfo=UTC),
    )
