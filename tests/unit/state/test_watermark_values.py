"""Watermark text: what an operator types becomes exactly what a run would have stored, or a clear refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingestion.config.models import Entity
from ingestion.errors import TerminalError
from ingestion.state import watermark_values
from ingestion.state.errors import WatermarkValueError
from ingestion.state.watermark_values import decode, encode, normalise, same_watermark

RUN_STORED = encode(datetime(2026, 11, 3, 2, 0, tzinfo=UTC))  # what a run's commit writes


@pytest.mark.parametrize(
    "typed",
    [
        "2026-11-03T02:00:00Z",
        "2026-11-03T03:00:00+01:00",
        "2026-11-02T21:00:00-05:00",
        "2026-11-03T02:00:00",  # no zone: UTC, as runs read zone-less cursors
        "2026-11-03 02:00",
        " 2026-11-03T02:00:00.000Z ",
        "2026-11-03T02:00:00+00:00",
    ],
)
def test_a_timestamp_in_any_iso_form_becomes_the_text_a_run_stores(typed: str) -> None:
    assert RUN_STORED == "2026-11-03T02:00:00+00:00"
    assert normalise(typed, "timestamp") == RUN_STORED


def test_a_date_is_midnight_utc_and_microseconds_are_kept() -> None:
    assert normalise("2026-11-03", "timestamp") == "2026-11-03T00:00:00+00:00"
    assert normalise("2026-11-03T02:00:00.123456Z", "timestamp") == "2026-11-03T02:00:00.123456+00:00"
    assert normalise("2026-11-03T02:00:00.123456Z", "timestamp") == encode(
        datetime(2026, 11, 3, 2, 0, 0, 123456, tzinfo=UTC)
    )


@pytest.mark.parametrize(("typed", "stored"), [(" 42 ", "42"), ("+42", "42"), ("-7", "-7"), ("007", "7")])
def test_an_integer_becomes_its_canonical_digits(typed: str, stored: str) -> None:
    assert normalise(typed, "integer") == stored


def test_a_string_is_kept_as_it_is() -> None:
    assert normalise(" order-00042 ", "string") == " order-00042 "


@pytest.mark.parametrize(
    ("typed", "value_type", "named"),
    [
        ("yesterday", "timestamp", "timestamp"),
        ("2026-13-01", "timestamp", "timestamp"),
        ("", "timestamp", "timestamp"),
        ("4.0", "integer", "integer"),
        ("1e3", "integer", "integer"),
        ("forty-two", "integer", "integer"),
        ("x", "files", "value type"),
    ],
)
def test_what_cannot_be_parsed_is_refused_naming_the_type_and_the_accepted_forms(
    typed: str, value_type: str, named: str
) -> None:
    with pytest.raises(WatermarkValueError) as raised:
        normalise(typed, value_type)
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, TerminalError)
    message = str(raised.value)
    assert named in message
    if value_type == "timestamp":
        assert "2026-11-03T02:00:00Z" in message
        assert "2026-11-03" in message


def test_decode_gives_aware_utc_for_rows_written_by_hand() -> None:
    # Rows set before normalisation existed: naive, date-only or with an offset. Windows compare them with aware
    # cursors, so a naive value would raise TypeError there.
    assert decode("2026-11-03", "timestamp") == datetime(2026, 11, 3, tzinfo=UTC)
    assert decode("2026-11-03T02:00:00", "timestamp").tzinfo is not None
    offset = decode("2026-11-03T03:00:00+01:00", "timestamp")
    assert offset == datetime(2026, 11, 3, 2, tzinfo=UTC)
    assert encode(offset) == RUN_STORED
    assert decode(" 12 ", "integer") == 12
    assert decode(None, "timestamp") is None


def test_same_watermark_compares_canonical_forms() -> None:
    assert same_watermark("2026-11-03T02:00:00Z", RUN_STORED, "timestamp")
    assert same_watermark("2026-11-03T03:00:00+01:00", RUN_STORED, "timestamp")
    assert not same_watermark("2026-11-03T02:00:01Z", RUN_STORED, "timestamp")
    assert same_watermark("007", "7", "integer")
    assert same_watermark(None, None, "timestamp")
    assert not same_watermark(None, RUN_STORED, "timestamp")
    assert not same_watermark(" a", "a", "string")
    # Text that does not parse as its type is compared as it is (never an error in a commit).
    assert same_watermark("A", "A", "timestamp")
    assert not same_watermark("A", "B", "timestamp")


def _entity(locator: dict[str, object], columns: list[dict[str, str]], load: dict[str, str]) -> Entity:
    return Entity.model_validate({"name": "e", "locator": locator, "columns": columns, "load": load})


def test_the_value_type_follows_the_cursor_a_run_reads() -> None:
    sql = {"kind": "sql", "table": "t"}
    cols = [
        {"name": "updated_at", "type": "timestamptz"},
        {"name": "seq", "type": "bigint"},
        {"name": "c", "type": "date"},
    ]
    by_time = _entity(sql, cols, {"mode": "incremental", "cursor_column": "updated_at"})
    by_seq = _entity(sql, cols, {"mode": "incremental", "cursor_column": "seq"})
    by_date = _entity(sql, cols, {"mode": "incremental", "cursor_column": "c"})
    files = _entity({"kind": "sftp", "remote_path": "in", "file_pattern": "*.csv"}, [], {})
    undeclared = _entity(sql, [], {"mode": "incremental", "cursor_column": "updated_at"})
    assert watermark_values.entity_value_type(by_time) == "timestamp"
    assert watermark_values.entity_value_type(by_seq) == "integer"
    assert watermark_values.entity_value_type(by_date) == "string"  # a run stores a date cursor as its ISO text
    assert watermark_values.entity_value_type(files) == "timestamp"  # file mtimes
    assert watermark_values.entity_value_type(undeclared) is None
    assert watermark_values.cursor_type(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == "timestamp"
