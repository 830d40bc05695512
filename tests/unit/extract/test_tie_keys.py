"""Rows at one cursor value and their keys' texts: the same row gives the same text in every run, whatever the key
columns' types, and rows are found at a watermark whatever type the cursor landed as."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.extract.tie_keys import count_true, cursor_scalar, key_texts, rows_at, without

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_composite_key_is_one_stable_text_per_row() -> None:
    keys = pa.record_batch(
        {
            "id": pa.array([1, 2], pa.int64()),
            "region": pa.array(["eu", 'Zoë, "x"'], pa.string()),
            "amount": pa.array([Decimal("1.50"), Decimal("-2.00")], pa.decimal128(12, 2)),
            "at": pa.array([T0, T0], pa.timestamp("us", tz="UTC")),
        }
    )
    texts = key_texts(keys)
    assert texts == [
        '[1,"eu","1.50","2026-11-01 00:00:00+00:00"]',
        '[2,"Zoë, \\"x\\"","-2.00","2026-11-01 00:00:00+00:00"]',
    ]
    assert key_texts(keys) == texts  # again: the same texts
    assert key_texts(pa.record_batch({"id": pa.array([b"\x00\xff"], pa.binary())})) == ['["00ff"]']


@pytest.mark.parametrize(
    ("arrow_type", "values", "watermark", "zone", "expected"),
    [
        (pa.timestamp("us", tz="UTC"), [T0, datetime(2026, 11, 2, tzinfo=UTC), None], T0, None, [True, False, False]),
        # A zone-less (timestamp_ntz) cursor lands as wall-clock times of the source's zone.
        (pa.timestamp("us"), [datetime(2026, 11, 1, 1, 0), datetime(2026, 11, 1)], T0, "Europe/Berlin", [True, False]),
        (pa.timestamp("us"), [datetime(2026, 11, 1, 1, 0), datetime(2026, 11, 1)], T0, None, [False, True]),
        (pa.int64(), [100, 99, 100], 100, None, [True, False, True]),
        (pa.int32(), [7, 8], 7, None, [True, False]),
        (pa.string(), ["b", "a"], "b", None, [True, False]),
    ],
)
def test_rows_at_the_watermark_are_found_whatever_the_cursors_landed_type(
    arrow_type: pa.DataType, values: list, watermark: object, zone: str | None, expected: list[bool]
) -> None:
    batch = pa.record_batch({"cursor": pa.array(values, arrow_type)})
    mask = rows_at(batch, "cursor", watermark, zone)
    assert mask.to_pylist() == expected
    assert count_true(mask) == sum(expected)


def test_a_watermark_that_does_not_convert_matches_no_row() -> None:
    batch = pa.record_batch({"cursor": pa.array([1, 2], pa.int64())})
    assert cursor_scalar("not a number", pa.int64(), None) is None
    assert rows_at(batch, "cursor", "not a number", None).to_pylist() == [False, False]


def test_only_the_flagged_rows_at_the_value_are_left_out() -> None:
    batch = pa.record_batch({"id": [1, 2, 3, 4], "cursor": [5, 9, 9, 9]})
    at = rows_at(batch, "cursor", 9, None)
    kept = without(batch, at, [True, False, True])  # rows 2 and 4 were landed before, row 3 is new
    assert kept.column("id").to_pylist() == [1, 3]


def test_a_key_holding_a_null_has_no_text() -> None:
    keys = pa.record_batch({"id": pa.array([1, None, 2], pa.int64()), "part": pa.array(["a", "b", None])})
    assert key_texts(keys) == ['[1,"a"]', None, None]
