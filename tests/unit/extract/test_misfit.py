"""A SQL value that does not fit its declared type fails naming the column and the row, never the value: Arrow's own
messages quote it, and a personal e-mail in a column declared `integer` would reach logs and alerts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingestion.extract.adbc_reader import _conform
from ingestion.extract.errors import SchemaMismatchError
from ingestion.extract.misfit import first_misfit
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
