"""A SQL value that does not fit its declared type fails naming the column and the row, never the value: Arrow's own
messages quote it, and a personal e-mail in a column declared `integer` would reach logs and alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from ingestion.extract.adbc_reader import _conform
from ingestion.extract.errors import SchemaMismatchError
from ingestion.extract.misfit import first_misfit, first_out_of_range, out_of_range_kind
from ingestion.extract.sql_reader import _to_array

CANARY = "ana.canary@example.com"


def test_a_driver_value_that_does_not_fit_is_named_by_row_not_by_value() -> None:
    values = [1, 2, 3, CANARY, 5]
    with pytest.raises(SchemaMismatchError) as raised:
        _to_array(values, pa.field("customer_ref", pa.int32()), first_row=100)
    message = str(raised.value)
    assert CANARY not in message
    assert "canary" not in message
    assert "'customer_ref'" in message
    assert "row 104 of the read" in message  # 1-based: the 4th value of a batch that starts after 100 rows
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_an_arrow_batch_that_does_not_cast_is_named_by_row_not_by_value() -> None:
    batch = pa.RecordBatch.from_arrays([pa.array(["7", "8", CANARY])], names=["customer_ref"])
    with pytest.raises(SchemaMismatchError) as raised:
        _conform(batch, pa.schema([pa.field("customer_ref", pa.int64())]), first_row=10)
    message = str(raised.value)
    assert CANARY not in message
    assert "'customer_ref'" in message
    assert "row 13 of the read" in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


@pytest.mark.parametrize(("bad", "expected"), [(set(), None), ({0}, 0), ({7}, 7), ({3, 9}, 3), ({99}, 99)])
def test_first_misfit_finds_the_first_row_that_does_not_convert(bad: set[int], expected: int | None) -> None:
    assert first_misfit(100, lambda count: not bad.intersection(range(count))) == expected


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_a_timestamp_outside_years_1_to_9999_is_found(unit: str) -> None:
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000}[unit]
    first = -62_135_596_800 * per_second  # 0001-01-01T00:00:00
    last = 253_402_300_800 * per_second - 1  # 9999-12-31T23:59:59(.999999)
    kind = pa.timestamp(unit, tz="UTC")
    inside = pa.array([first, None, last, 0], pa.int64()).cast(kind)
    assert first_out_of_range(inside) is None
    assert inside.to_pylist()[0] == datetime(1, 1, 1, tzinfo=UTC)
    assert first_out_of_range(pa.array([0, None, last + 1], pa.int64()).cast(kind)) == 2
    assert first_out_of_range(pa.array([first - 1, 0], pa.int64()).cast(pa.timestamp(unit))) == 0
    assert first_out_of_range(pa.array([2**63 - 1], pa.int64()).cast(kind)) == 0  # Postgres infinity via ADBC
    assert first_out_of_range(pa.array([2**62], pa.int64())) is None  # not a timestamp


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_value_that_is_no_datetime_is_named_by_row_in_any_source_zone(zone: str) -> None:
    values = [datetime(2024, 1, 2, 10, 0), "0000-00-00 00:00:00", datetime(2024, 1, 3)]  # a MariaDB zero date
    with pytest.raises(SchemaMismatchError) as raised:
        _to_array(values, pa.field("at", pa.timestamp("us", tz="UTC")), zone, first_row=10)
    assert str(raised.value).startswith("column 'at': row 12 of the read holds a str value")
    assert "0000" not in str(raised.value)


def test_a_date_outside_years_1_to_9999_is_found() -> None:
    # Postgres 'infinity' and BC dates fit date32: they were published as "<value out of range: ...>" and "-0043-...".
    first, last = -719_162, 2_932_896  # 0001-01-01 and 9999-12-31, in days since 1970-01-01
    inside = pa.array([first, None, last, 0], pa.int32()).cast(pa.date32())
    assert first_out_of_range(inside) is None
    assert inside.to_pylist()[0] == date(1, 1, 1)
    assert first_out_of_range(pa.array([0, None, last + 1], pa.int32()).cast(pa.date32())) == 2
    assert first_out_of_range(pa.array([first - 1], pa.int32()).cast(pa.date32())) == 0
    assert first_out_of_range(pa.array([2**31 - 1], pa.int32()).cast(pa.date32())) == 0  # Postgres infinity
    day = 86_400_000
    assert first_out_of_range(pa.array([last * day, (last + 1) * day], pa.int64()).cast(pa.date64())) == 1
    assert out_of_range_kind(pa.date32()) == "date (outside years 1 to 9999)"
