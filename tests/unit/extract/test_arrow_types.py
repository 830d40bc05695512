"""Logical column types of the config map to exact Arrow types."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ingestion.extract.arrow_types import arrow_type
from ingestion.extract.errors import UnknownColumnTypeError


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("string", pa.string()),
        ("integer", pa.int32()),
        ("bigint", pa.int64()),
        ("decimal(12,2)", pa.decimal128(12, 2)),
        ("NUMERIC(38, 10)", pa.decimal128(38, 10)),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("timestamp_ntz", pa.timestamp("us")),
        ("date", pa.date32()),
        ("boolean", pa.bool_()),
    ],
)
def test_known_types(logical: str, expected: pa.DataType) -> None:
    assert arrow_type(logical) == expected


@pytest.mark.parametrize(
    ("logical", "message"),
    [("money", "unknown column type 'money'"), ("decimal(40,2)", "<= 38"), ("decimal(5,6)", "scale <= precision")],
)
def test_unknown_or_impossible_types_are_named(logical: str, message: str) -> None:
    with pytest.raises(UnknownColumnTypeError, match=message):
        arrow_type(logical)
