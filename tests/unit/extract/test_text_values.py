"""Canonical text of the text-carried types, and the lossless text of driver values in a `string` column."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.extract.text_values import (
    NoLosslessText,
    duration_text,
    first_beyond_day,
    first_malformed,
    iso_interval,
    text_of,
    time_of_day,
)
from ingestion.extract.tie_keys import cursor_scalar


@pytest.mark.parametrize(
    ("months", "days", "micros", "text"),
    [
        # What PostgreSQL writes with IntervalStyle iso_8601 for the same interval (checked on the local stack by
        # tests/integration/test_type_matrix.py).
        (14, -3, 14_706_500_000, "P1Y2M-3DT4H5M6.5S"),
        (-178_000_000 * 12, 0, 0, "P-178000000Y"),
        (0, 0, -(838 * 3600 + 59 * 60 + 59) * 1_000_000, "PT-838H-59M-59S"),
        (0, 0, 100 * 3_600_000_000 + 1, "PT100H0.000001S"),
        (0, 0, -500_000, "PT-0.5S"),
        (0, 0, 0, "PT0S"),
        (-1, 0, 0, "P-1M"),
    ],
)
def test_intervals_are_iso_8601_as_postgres_writes_them(months: int, days: int, micros: int, text: str) -> None:
    assert iso_interval(months, days, micros) == text
    assert first_malformed(pa.array([text]), "interval") is None


def test_mysql_time_durations_keep_their_sign_and_hours() -> None:
    assert duration_text(timedelta(hours=-838, minutes=-59, seconds=-59)) == "-838:59:59"
    assert duration_text(timedelta(seconds=-1)) == "-00:00:01"
    assert duration_text(timedelta(hours=25, microseconds=1)) == "25:00:00.000001"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=-838, minutes=-59, seconds=-59), "-838:59:59"),  # never "-3020399000000"
        (uuid.UUID("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        (Decimal("1E-20"), "0.00000000000000000001"),
        (2**64 - 1, "18446744073709551615"),
        (time(23, 59, 59, 999999), "23:59:59.999999"),
        (date(1, 1, 1), "0001-01-01"),
        (datetime(2026, 3, 29, 2, 30), "2026-03-29T02:30:00"),
        ("€".encode(), "€"),
        ({"b", "a"}, "a,b"),
        (0.1, "0.1"),
    ],
)
def test_driver_values_have_one_lossless_text(value: object, text: str) -> None:
    assert text_of(value) == text


def test_bytes_that_are_not_utf8_have_no_text() -> None:
    with pytest.raises(NoLosslessText, match="not UTF-8"):
        text_of(b"\xff\x00")


def test_a_time_of_day_is_within_the_day() -> None:
    assert time_of_day(timedelta(hours=23, minutes=59, seconds=59, microseconds=999999)) == time(23, 59, 59, 999999)
    for outside in (timedelta(seconds=-1), timedelta(hours=24)):
        with pytest.raises(NoLosslessText):
            time_of_day(outside)
    assert first_beyond_day(pa.array([0, 86_400_000_000 - 1, None, 86_400_000_000], pa.time64("us"))) == 3


@pytest.mark.parametrize(
    ("logical", "good", "bad"),
    [
        ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99"),
        ("decimal", "-12.500", "1e5"),
        ("decimal", "NaN", "12."),
        ("interval", "P1Y", "1 year"),
    ],
)
def test_malformed_text_is_found_by_row(logical: str, good: str, bad: str) -> None:
    assert first_malformed(pa.array([good, None, bad]), logical) == 2


def test_a_cursor_beyond_the_landed_integer_type_matches_no_row() -> None:
    # A BIGINT UNSIGNED watermark above 2^63 against an int64 column: was an unnamed OverflowError.
    assert cursor_scalar(2**64 - 1, pa.int64(), None) is None
    assert cursor_scalar(2**64 - 1, pa.decimal128(20, 0), None).as_py() == Decimal(2**64 - 1)
