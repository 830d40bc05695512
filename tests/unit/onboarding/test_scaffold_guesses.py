"""The pure guesses behind `ingest scaffold`: types from sampled values, PII suggestions (never quoting a value),
primary key and cursor, the paging style, and the check lines of `ingest test-connection`."""

from __future__ import annotations

import pytest

from ingestion.onboarding.connection_check import CheckLine, said
from ingestion.onboarding.draft import DraftColumn, columns_from_records, entity_name, guess_cursor, guess_primary_key
from ingestion.onboarding.http_draft import guess_pagination
from ingestion.onboarding.pii_hints import suggest_pii
from ingestion.onboarding.sql_draft import table_names
from ingestion.onboarding.value_types import infer_type


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, None], "integer"),
        ([1, 2**40], "bigint"),
        (["7.31", "14.62", 3], "decimal(12,2)"),
        ([1.5, 1e300], "double"),
        ([True, False], "boolean"),
        (["true", "FALSE"], "boolean"),
        (["2026-11-01", "2026-02-28"], "date"),
        (["2026-11-01T00:05:00Z", "2026-11-01 10:00:00"], "timestamp"),
        (["2026-11-01", "2026-11-01T10:00:00"], "timestamp"),
        ([{"a": 1}, [1, 2]], "json"),
        (["SKU-1", "x"], "string"),
        (["2026-13-01"], "string"),  # not a date
        ([1, "x"], "string"),
        ([None, None], "string"),
    ],
)
def test_infer_type(values: list[object], expected: str) -> None:
    assert infer_type(values).type == expected


def test_a_type_guessed_from_nothing_says_so() -> None:
    assert "no value sampled" in infer_type([None]).note


@pytest.mark.parametrize(
    ("name", "values", "kind", "strategy"),
    [
        ("email", [], "e-mail", "hash"),
        ("contact", ["a@example.org", "b@example.org", "n/a"], "e-mail", "hash"),
        ("account", ["DE89370400440532013000"], "iban", "encrypt"),
        ("payment", ["4111 1111 1111 1111", "5500-0000-0000-0004"], "card number", "drop"),
        ("client_ip", [], "ip address", "hash"),
        ("source", ["10.0.0.1", "2001:db8::1"], "ip address", "hash"),
        ("MobilePhone", [], "phone", "redact"),
        ("reachable_at", ["+49 30 1234567", "(030) 1234-567"], "phone", "redact"),
        ("FirstName", [], "person name", "redact"),
        ("name", [], "person name", "redact"),
    ],
)
def test_pii_suggestions(name: str, values: list[object], kind: str, strategy: str) -> None:
    suggestion = suggest_pii(name, values)
    assert suggestion is not None
    assert (suggestion.kind, suggestion.strategy) == (kind, strategy)
    assert not any(str(v) in suggestion.describe() for v in values)  # the reason never quotes a value


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("order_id", [12345678, 23456789]),  # plain numbers are not phone numbers
        ("day", ["2026-11-01", "2026-11-02"]),  # dates are not phone numbers
        ("account", ["DE89370400440532013001"]),  # the IBAN check fails
        ("ref", ["4111111111111112"]),  # the Luhn check fails
        ("product_name", ["Desk lamp"]),
        ("amount", ["12.50"]),
    ],
)
def test_no_pii_suggestion(name: str, values: list[object]) -> None:
    assert suggest_pii(name, values) is None


def test_columns_from_flattened_records_are_nullable_where_a_record_lacks_them() -> None:
    columns, samples = columns_from_records([{"id": 1, "shipping_city": "X"}, {"id": 2}])
    assert [(c.name, c.type, c.nullable) for c in columns] == [
        ("id", "integer", False),
        ("shipping_city", "string", True),
    ]
    assert samples["id"] == [1, 2]


def test_primary_key_and_cursor() -> None:
    columns = [
        DraftColumn("customer_id", "integer", False),
        DraftColumn("id", "integer", False),
        DraftColumn("created_at", "timestamp", False),
        DraftColumn("LastModified", "timestamp", False),
    ]
    samples: dict[str, list[object]] = {"id": [1, 2, 3], "customer_id": [1, 1, 2]}
    assert guess_primary_key(columns, samples) == ["id"]  # customer_id repeats
    assert guess_cursor(columns, ["id"])[0] == "LastModified"
    assert guess_cursor(columns[:3], ["id"])[0] == "id"  # no last-change time: the integer key
    assert guess_cursor(columns[2:3], [])[0] is None


@pytest.mark.parametrize(
    ("body", "links", "style"),
    [
        ({"data": []}, {"next": {"url": "http://x/?page=2"}}, "link_header"),
        ({"data": [], "links": {"next": "https://x/v1?cursor=a"}}, {}, "next_url"),
        ({"data": [], "meta": {"next_cursor": "abc"}}, {}, "cursor"),
        ({"data": [], "meta": {"page": 1}}, {}, "page_number"),
        ({"data": [], "offset": 0}, {}, "offset"),
        ({"data": []}, {}, "none"),
    ],
)
def test_paging_style(body: dict[str, object], links: dict[str, object], style: str) -> None:
    assert guess_pagination(body, links)[0]["style"] == style


def test_names() -> None:
    assert table_names(["Sales Ops.Line Items", "orders"]) == [("Sales Ops", "Line Items"), (None, "orders")]
    assert entity_name("Line Items") == "line_items"
    assert entity_name("OrderLines") == "order_lines"
    assert entity_name("2024 sales") == "e_2024_sales"


def test_check_lines_and_errors_said_without_secrets() -> None:
    assert str(CheckLine(True, "crm.customers: x")) == "ok  crm.customers: x"
    assert str(CheckLine(False, "crm.customers: x")) == "FAIL  crm.customers: x"
    text = said(ValueError("cannot reach postgresql://reader:s3cr3t-pass@db:5432/crm"), "crm")
    assert "s3cr3t-pass" not in text
    assert text.startswith("ValueError: ")
