from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.extract.arrow_types import arrow_type
from ingestion.publish.json_encoding import encode_keys, encode_values, json_literals


def _decoded(batch: pa.RecordBatch, columns: list[str]) -> list[dict]:
    return [json.loads(text) for text in encode_values(batch, columns).to_pylist()]


def test_every_logical_type_round_trips_without_loss() -> None:
    columns = {
        "i": (pa.array([2**63 - 1, None], arrow_type("bigint")), [2**63 - 1, None]),
        "d": (
            pa.array([Decimal("-0.10"), Decimal("12345678901234567890.123456789")], arrow_type("decimal(38,9)")),
            ["-0.100000000", "12345678901234567890.123456789"],
        ),
        "f": (pa.array([0.1, float("nan")], arrow_type("double")), [0.1, None]),
        "r": (pa.array([1e-7, float("inf")], arrow_type("float")), [1e-7, None]),
        "b": (pa.array([True, False], arrow_type("boolean")), [True, False]),
        "ts": (
            pa.array([datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), None], arrow_type("timestamp")),
            ["2026-01-02T03:04:05.000006Z", None],
        ),
        "ntz": (
            pa.array([datetime(2026, 1, 2, 3, 4, 5), datetime(1, 1, 1)], arrow_type("timestamp_ntz")),
            ["2026-01-02T03:04:05.000000", "0001-01-01T00:00:00.000000"],
        ),
        "day": (pa.array([date(2026, 1, 2), None], arrow_type("date")), ["2026-01-02", None]),
        "s": (
            pa.array(['a "q" \\ b', "line\nnext\ttab\x01\x1f é 😀"], arrow_type("string")),
            ['a "q" \\ b', "line\nnext\ttab\x01\x1f é 😀"],
        ),
        "j": (pa.array(['{"k": [1, 2]}', None], arrow_type("json")), ['{"k": [1, 2]}', None]),
        "bin": (pa.array([b"\x00\xff", None], arrow_type("binary")), ["AP8=", None]),
    }
    batch = pa.RecordBatch.from_pydict({name: array for name, (array, _) in columns.items()})
    decoded = _decoded(batch, list(columns))
    for row in (0, 1):
        assert decoded[row] == {name: expected[row] for name, (_, expected) in columns.items()}
    assert list(decoded[0]) == list(columns)  # column order kept


def test_zoned_timestamps_of_any_zone_and_unit_are_written_in_utc() -> None:
    berlin = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    values = pa.array([berlin], pa.timestamp("ms", tz="Europe/Berlin"))
    assert json_literals(values).to_pylist() == ['"2026-06-01T10:00:00.000000Z"']


def test_column_names_are_escaped_too() -> None:
    batch = pa.RecordBatch.from_pydict({'we"ird': pa.array([1])})
    assert _decoded(batch, ['we"ird']) == [{'we"ird': 1}]


def test_keys_single_column_plain_text_composite_json_array_none_without_columns() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "id": pa.array([42, 7], pa.int64()),
            "region": pa.array(["EU", 'U"S']),
            "at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2, arrow_type("timestamp")),
            "amount": pa.array([Decimal("1.50"), None], pa.decimal128(5, 2)),
        }
    )
    assert encode_keys(batch, ["region"]).to_pylist() == ["EU", 'U"S']
    assert encode_keys(batch, ["at"]).to_pylist() == ["2026-01-01T00:00:00.000000Z"] * 2
    assert encode_keys(batch, ["amount"]).to_pylist() == ["1.50", None]
    assert [json.loads(k) for k in encode_keys(batch, ["id", "region"]).to_pylist()] == [[42, "EU"], [7, 'U"S']]
    assert encode_keys(batch, []) is None


def test_a_message_needs_columns() -> None:
    with pytest.raises(ValueError, match="at least one column"):
        encode_values(pa.RecordBatch.from_pydict({"a": [1]}), [])


def test_small_decimals_and_zero_keep_their_scale_without_an_exponent() -> None:
    # Arrow's own decimal text is "0E-10" and "1E-10" for these: not the documented form, and not what a reader of
    # a decimal(38,10) expects.
    from decimal import Decimal

    values = pa.array([Decimal(0), Decimal("0.0000000001"), Decimal("-0.0000001"), Decimal("12.5"), None])
    batch = pa.record_batch({"d": values.cast(pa.decimal128(38, 10))})
    assert [json.loads(v)["d"] for v in encode_values(batch, ["d"]).to_pylist()] == [
        "0.0000000000",
        "0.0000000001",
        "-0.0000001000",
        "12.5000000000",
        None,
    ]
    assert encode_keys(batch, ["d"]).to_pylist()[:2] == ["0.0000000000", "0.0000000001"]


def test_times_of_day_are_iso_text_with_microseconds() -> None:
    from datetime import time

    batch = pa.record_batch({"t": pa.array([time(0), time(23, 59, 59, 999999), None], pa.time64("us"))})
    assert [json.loads(v)["t"] for v in encode_values(batch, ["t"]).to_pylist()] == [
        "00:00:00.000000",
        "23:59:59.999999",
        None,
    ]


@pytest.mark.parametrize(
    "values",
    [
        pa.array(["plain", 'with "quote"', "back\\slash", "ctl\x01\n"], pa.string()),
        pa.array([Decimal("1.50"), Decimal("0")], pa.decimal128(12, 2)),
        pa.array([datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        pa.array([datetime(2026, 1, 2, 3, 4, 5)], pa.timestamp("us")),
        pa.array([date(2026, 1, 2)], pa.date32()),
        pa.array([b"\x00\xff"], pa.binary()),
        pa.array([1.5, 1e300], pa.float64()),
    ],
)
def test_a_column_without_nulls_is_written_as_the_same_column_with_a_null(values: pa.Array) -> None:
    # Without nulls, the row join writes the quotes around the values itself; with one, the column's own literals
    # are joined. Both must give the same text for the same value.
    with_null = pa.concat_arrays([values, pa.nulls(1, values.type)])
    without = encode_values(pa.RecordBatch.from_arrays([values], names=["c"]), ["c"]).to_pylist()
    mixed = encode_values(pa.RecordBatch.from_arrays([with_null], names=["c"]), ["c"]).to_pylist()
    assert without == mixed[:-1]
    assert mixed[-1] == '{"c":null}'
    assert without == [f'{{"c":{text}}}' for text in json_literals(values).to_pylist()]


def test_a_sliced_string_column_is_checked_for_escapes_within_its_own_values() -> None:
    # A slice is escaped by its own values: a quote in it is found, one outside it is not.
    values = pa.array(["a", 'b"', "c"], pa.string()).slice(1, 1)
    assert json_literals(values).to_pylist() == ['"b\\""']
    assert json_literals(pa.array(['x"', "y"], pa.string()).slice(1, 1)).to_pylist() == ['"y"']
