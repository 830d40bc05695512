"""Records to typed Arrow: what fits lands exactly; what does not is rejected with a reason, never dropped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.config.models import Column
from ingestion.extract.record_typing import RecordTyper, ValueDoesNotFit, converter, split_record

COLUMNS = [
    Column(name="id", type="bigint", nullable=False),
    Column(name="amount", type="decimal(12,2)", nullable=False),
    Column(name="shipping_city", type="string"),
    Column(name="paid", type="boolean"),
    Column(name="updated_at", type="timestamp", nullable=False),
    Column(name="day", type="date"),
]


def where(index: int) -> str:
    return f"record {index}"


def test_split_record_flattens_what_no_column_takes_and_keeps_lists() -> None:
    record = {"a": 1, "shipping": {"city": "X", "geo": {"lat": 1.5}}, "items": [{"sku": "s"}], "e": {}}
    assert split_record(record, frozenset({"a", "shipping_city"})) == (
        {"a": 1, "shipping_city": "X"},
        {"shipping_geo_lat": 1.5, "items": [{"sku": "s"}], "e": {}},
    )


def test_split_record_gives_a_declared_column_its_object_whole_and_prefers_the_shallower_path() -> None:
    record = {"contact": {"email": "a@b", "phone": "1"}, "a": {"b": 2}, "a_b": 1}
    taken, rest = split_record(record, frozenset({"contact", "a_b"}))
    assert taken == {"contact": {"email": "a@b", "phone": "1"}, "a_b": 1}
    assert rest == {}


def test_records_land_typed_and_the_rest_goes_to_the_extra_column() -> None:
    typer = RecordTyper(COLUMNS, extra_column="_extra")
    record = {
        "id": 7,
        "amount": "12.30",
        "shipping": {"city": "Zürich", "country": "CH"},
        "paid": True,
        "updated_at": "2026-11-01T09:45:00+01:00",
        "day": "2026-11-01",
        "items": [1, 2],
    }
    batch, rejected = typer.records_to_batch([record], where)
    assert rejected == []
    row = batch.to_pylist()[0]
    assert row["id"] == 7
    assert row["amount"] == Decimal("12.30")
    assert row["shipping_city"] == "Zürich"
    assert row["updated_at"] == datetime(2026, 11, 1, 8, 45, tzinfo=UTC)
    assert row["day"] == date(2026, 11, 1)
    assert row["_extra"] == '{"items": [1, 2], "shipping_country": "CH"}'
    assert batch.schema.field("amount").type == pa.decimal128(12, 2)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "required field 'id' is missing"),
        ({"id": "seven"}, "field 'id' (bigint): text that is not an integer"),
        ({"id": True}, "a boolean is not an integer"),
        ({"amount": "12.345"}, "more than 2 decimal place(s)"),
        ({"amount": "12345678901.00"}, "does not fit decimal(12,2)"),
        ({"updated_at": "yesterday"}, "not an ISO-8601 timestamp"),
        ({"paid": "maybe"}, "not a boolean"),
        ({"shipping": {"city": ["x"]}}, "is not a string"),
    ],
)
def test_a_bad_record_is_rejected_with_its_reason_and_the_rest_land(change: dict, reason: str) -> None:
    typer = RecordTyper(COLUMNS)
    good = {"id": 1, "amount": 1, "updated_at": "2026-11-01T00:00:00Z"}
    bad = {**good, "id": 2, **change}
    batch, rejected = typer.records_to_batch([good, bad, good | {"id": 3}], where)
    assert batch.column("id").to_pylist() == [1, 3]
    assert len(rejected) == 1
    assert rejected[0].where == "record 1"
    assert reason in rejected[0].reason
    assert rejected[0].record == bad


def test_a_record_that_is_not_an_object_is_rejected() -> None:
    batch, rejected = RecordTyper(COLUMNS).records_to_batch([[1, 2]], where)
    assert batch.num_rows == 0
    assert "must be a JSON object" in rejected[0].reason


def test_text_batch_casts_in_arrow_and_falls_back_row_by_row_only_for_bad_rows() -> None:
    typer = RecordTyper(COLUMNS)
    text = pa.RecordBatch.from_pydict(
        {
            "id": ["1", "2", "x"],
            "amount": ["1.50", "2", "3"],
            "shipping_city": ["a", None, "c"],
            "paid": ["true", "0", None],
            "updated_at": ["2026-11-02T10:00:00Z", "2026-11-02T11:00:00", "2026-11-02T12:00:00Z"],
            "day": [None, "2026-11-02", None],
        },
        schema=pa.schema([pa.field(c.name, pa.string()) for c in COLUMNS]),
    )
    batch, rejected = typer.batch_to_typed(text, where)
    assert batch.column("id").to_pylist() == [1, 2]
    # the zone-less timestamp needed the row path: it is taken as UTC
    assert batch.column("updated_at").to_pylist()[1] == datetime(2026, 11, 2, 11, tzinfo=UTC)
    assert [r.where for r in rejected] == ["record 2"]
    assert rejected[0].record["id"] == "x"

    clean = text.slice(0, 1)
    fast, none = typer.batch_to_typed(clean, where)
    assert none == []
    assert fast.column("amount").to_pylist() == [Decimal("1.50")]


def test_converters_refuse_loss() -> None:
    with pytest.raises(ValueDoesNotFit):
        converter("smallint")(40000)
    with pytest.raises(ValueDoesNotFit):
        converter("integer")(1.5)
    assert converter("integer")(2.0) == 2
    assert converter("decimal(38,2)")("123456789012345678901234567890123456.78") == Decimal(
        "123456789012345678901234567890123456.78"
    )
    assert converter("timestamp_ntz")("2026-11-01T10:00:00+02:00") == datetime(2026, 11, 1, 8, 0)
    assert converter("json")({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'


def test_a_typed_batch_missing_a_nullable_column_gets_nulls() -> None:
    typer = RecordTyper(COLUMNS)
    typed = pa.RecordBatch.from_pydict(
        {"id": pa.array([1], pa.int32()), "amount": [Decimal("2.5")], "updated_at": [datetime(2026, 11, 1, tzinfo=UTC)]}
    )
    batch, rejected = typer.batch_to_typed(typed, where)
    assert rejected == []
    assert batch.to_pylist()[0]["amount"] == Decimal("2.50")
    assert batch.column("day").null_count == 1


CANARY = "canary.7f3a@example.org"
PII_COLUMNS = [
    Column(name="id", type="bigint", nullable=False),
    Column(name="recipient", type="json", pii=True, pii_strategy="redact"),
    Column(name="contact", type="string", pii=True, pii_strategy="hash"),
    Column(name="note", type="string"),
]


def test_a_declared_json_pii_column_receives_its_object_and_extra_keeps_none_of_it() -> None:
    # The issue's run: every message had "recipient": null and the address unmasked in _extra.
    typer = RecordTyper(PII_COLUMNS, extra_column="_extra")
    record = {"id": 7, "recipient": {"email": CANARY, "name": "Recipient 7"}, "note": "n", "items": [1]}
    batch, rejected = typer.records_to_batch([record], where)
    assert rejected == []
    row = batch.to_pylist()[0]
    assert row["recipient"] == f'{{"email": "{CANARY}", "name": "Recipient 7"}}'
    assert row["_extra"] == '{"items": [1]}'


def test_extra_never_carries_a_field_under_a_pii_columns_name_or_prefix() -> None:
    typer = RecordTyper(PII_COLUMNS, extra_column="_extra")
    record = {"id": 8, "contact": "c", "contact_email": CANARY, "recipient_name": "R", "contacts": "kept"}
    batch, rejected = typer.records_to_batch([record], where)
    assert rejected == []
    extra = batch.to_pylist()[0]["_extra"]
    assert CANARY not in extra
    assert "recipient_name" not in extra
    assert extra == '{"contacts": "kept"}'  # a name that only starts with the same letters is not under it


@pytest.mark.parametrize(
    "record",
    [
        {"id": CANARY},
        {"id": 1, "contact": {"email": CANARY}},
        {"id": 1, "note": [CANARY]},
        {"id": 1, "amount": CANARY},
        {"id": 1, "when": CANARY},
        {"id": 1, "day": CANARY},
        {"id": 1, "paid": CANARY},
        {"id": 1, "blob": CANARY},
        {"id": 1.5, "note": CANARY},
        {"id": 2**70, "note": CANARY},
    ],
)
def test_a_reason_names_the_field_and_never_quotes_the_value(record: dict) -> None:
    columns = [
        *PII_COLUMNS,
        Column(name="amount", type="decimal(5,2)"),
        Column(name="when", type="timestamp"),
        Column(name="day", type="date"),
        Column(name="paid", type="boolean"),
        Column(name="blob", type="binary"),
    ]
    batch, rejected = RecordTyper(columns, extra_column="_extra").records_to_batch([record], where)
    assert batch.num_rows == 0
    assert len(rejected) == 1
    assert "field '" in rejected[0].reason
    assert CANARY not in rejected[0].reason
    assert "2361183241434822606848" not in rejected[0].reason  # 2**70
    assert rejected[0].record == record  # the quarantine file (sensitive container) keeps the record as it came


def test_a_text_batch_rejects_rows_without_quoting_their_values() -> None:
    typer = RecordTyper(COLUMNS)
    text = pa.RecordBatch.from_pydict(
        {"id": ["1", CANARY], "amount": ["1", "2"], "updated_at": ["2026-11-02T10:00:00Z", "2026-11-02T10:00:00Z"]}
    )
    batch, rejected = typer.batch_to_typed(text, where)
    assert batch.num_rows == 1
    assert [r.where for r in rejected] == ["record 1"]
    assert CANARY not in rejected[0].reason


def test_text_carried_types_and_times_land_in_their_canonical_form_from_records_and_text() -> None:
    columns = [
        Column(name="ext_id", type="uuid"),
        Column(name="span", type="interval"),
        Column(name="amount", type="decimal"),
        Column(name="at", type="time"),
    ]
    typer = RecordTyper(columns)
    good = {
        "ext_id": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
        "span": "P1Y2M-3DT4H",
        "amount": "-123456789012345678901234567890123456789012.5",
        "at": "23:59:59.999999",
    }
    batch, rejected = typer.records_to_batch([good, {**good, "ext_id": "not-a-uuid"}, {**good, "span": "1 day"}], where)
    assert batch.to_pylist() == [
        {
            "ext_id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "span": "P1Y2M-3DT4H",
            "amount": "-123456789012345678901234567890123456789012.5",
            "at": datetime(2026, 1, 1, 23, 59, 59, 999999).time(),
        }
    ]
    assert [r.reason for r in rejected] == [
        "field 'ext_id' (uuid): text that is not a uuid in its canonical form",
        "field 'span' (interval): text that is not an interval in its canonical form",
    ]
    # The same from text cells (a CSV): the fast Arrow path checks the form too, and only the bad row is rejected.
    cells = pa.RecordBatch.from_pylist(
        [good, {**good, "amount": "12,5"}], schema=pa.schema([pa.field(c.name, pa.string()) for c in columns])
    )
    typed, rejected = typer.batch_to_typed(cells, where)
    assert typed.column("ext_id").to_pylist() == ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]
    assert [r.reason for r in rejected] == [
        "field 'amount' (decimal): text that is not a decimal in its canonical form"
    ]


# -- values past a type's range: rejected by row, never an exception that fails the whole run, never a changed value --

EDGES = [
    Column(name="id", type="bigint", nullable=False),
    Column(name="at", type="timestamp"),
    Column(name="local_at", type="timestamp_ntz"),
    Column(name="ratio", type="double"),
    Column(name="small", type="float"),
    Column(name="doc", type="json"),
]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        # Valid ISO-8601 text whose instant in UTC falls outside datetime's years 1-9999: OverflowError before.
        ("at", "0001-01-01T00:00:00+01:00", "field 'at' (timestamp): a value out of range"),
        ("local_at", "9999-12-31T23:00:00-05:00", "field 'local_at' (timestamp_ntz): a value out of range"),
        # A JSON integer too large for a double: OverflowError before.
        ("ratio", 10**400, "field 'ratio' (double): a value out of range"),
        # A 32-bit float cannot hold 1e300: it landed as inf, and was published as null.
        ("small", 1e300, "field 'small' (float): a number out of range for a 32-bit float"),
        ("small", "-3.5e38", "field 'small' (float): a number out of range for a 32-bit float"),
        # JSON has no NaN or Infinity: a json column landed them as text no JSON parser reads.
        ("doc", {"x": float("nan")}, "field 'doc' (json): NaN or Infinity, which JSON cannot hold"),
    ],
)
def test_a_value_past_its_types_range_rejects_its_record_only(field: str, value: object, reason: str) -> None:
    typer = RecordTyper(EDGES)
    batch, rejected = typer.records_to_batch([{"id": 1, field: value}, {"id": 2}], where)
    assert [r.reason for r in rejected] == [reason]
    assert rejected[0].where == "record 0"
    assert batch.column("id").to_pylist() == [2]


def test_unmapped_fields_holding_nan_reject_the_record_rather_than_land_text_that_is_not_json() -> None:
    typer = RecordTyper(EDGES, extra_column="_extra")
    batch, rejected = typer.records_to_batch([{"id": 1, "other": float("inf")}, {"id": 2, "other": 1.5}], where)
    assert [r.reason for r in rejected] == ["unmapped fields (_extra): NaN or Infinity, which JSON cannot hold"]
    assert batch.column("_extra").to_pylist() == ['{"other": 1.5}']


def test_non_finite_values_a_float_column_can_hold_still_land() -> None:
    # NaN and inf are values of a float column (published as null, docs/loads.md); 3.4e38 fits a 32-bit float.
    typer = RecordTyper(EDGES)
    records = [{"id": 1, "ratio": float("nan"), "small": "inf"}, {"id": 2, "ratio": 1e300, "small": 3.4e38}]
    batch, rejected = typer.records_to_batch(records, where)
    assert rejected == []
    assert batch.column("small").to_pylist()[0] == float("inf")
    assert batch.column("ratio").to_pylist()[1] == 1e300


def test_a_text_batch_falls_back_to_rows_when_a_float_cast_overflows() -> None:
    # Arrow casts "1e300" to a 32-bit float as inf without an error; only that row is rejected.
    typer = RecordTyper([Column(name="id", type="bigint", nullable=False), Column(name="small", type="float")])
    text = pa.record_batch({"id": ["1", "2", "3"], "small": ["1.5", "1e300", "-inf"]})
    batch, rejected = typer.batch_to_typed(text, where)
    assert [(r.where, r.reason) for r in rejected] == [
        ("record 1", "field 'small' (float): a number out of range for a 32-bit float")
    ]
    assert batch.column("small").to_pylist() == [1.5, float("-inf")]


def test_a_required_field_rejects_a_null_even_in_a_nullable_column() -> None:
    # An interval run keeps the records whose cursor is in the interval: one without a cursor is in none, and was
    # dropped as "outside the window"; it is now rejected, to the quarantine, naming the field.
    typer = RecordTyper(EDGES, required=("at",), required_reason="no interval holds a record without its cursor")
    records = [{"id": 1, "at": "2026-11-01T10:00:00Z"}, {"id": 2}, {"id": 3, "at": None}]
    batch, rejected = typer.records_to_batch(records, where)
    assert batch.column("id").to_pylist() == [1]
    assert [(r.where, r.reason) for r in rejected] == [
        ("record 1", "field 'at' is missing or null: no interval holds a record without its cursor"),
        ("record 2", "field 'at' is missing or null: no interval holds a record without its cursor"),
    ]
