"""extract_land (and validate) for REST entities through the real operators, against the stack's sample API.

Each test has a source of its own (own name, so own watermark and paths) on the sample API, which is reset before
and after each test. The API serves 250 orders with every paging style at once; the config picks one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException

from ingestion.config.models import HttpOptions
from ingestion.extract.errors import SourceRequestError
from ingestion.extract.http_client import ApiClient
from ingestion.land.lake import Lake
from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from tests.integration.support import landed_table, run_stages, sensitive_table, source_config, write_configs

SEEDED = 250
COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "customer_id", "type": "integer", "nullable": False},
    {"name": "status", "type": "string", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "shipping_city", "type": "string", "pii": True, "pii_strategy": "hash"},
    {"name": "shipping_country", "type": "string"},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]
PAGING = {
    "page_number": {"style": "page_number", "page_param": "page", "size_param": "page_size", "page_size": 100},
    "offset": {"style": "offset", "offset_param": "offset", "size_param": "limit", "page_size": 70},
    "cursor": {"style": "cursor", "cursor_param": "cursor", "cursor_path": "meta.next_cursor", "page_size": 90},
    "next_url": {"style": "next_url", "next_url_path": "links.next", "size_param": None},
    "link_header": {"style": "link_header", "size_param": None},
}
END = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.fixture
def api(sample_api_url: str) -> Iterator[str]:
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()
    yield sample_api_url
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()


def control(api: str, what: str, body: dict[str, Any]) -> None:
    requests.post(f"{api}/_control/{what}", json=body, timeout=5).raise_for_status()


def http_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, conn_id: str = "orders_api", **changes: Any) -> str:
    """A source of the test's own on the sample API; `changes` update the entity's locator, load or http options."""
    name = f"h{uuid.uuid4().hex[:8]}"
    locator = {
        "kind": "http",
        "endpoint": "/v1/orders",
        "record_path": "data",
        "pagination": PAGING["page_number"],
        "incremental_param": "updated_since",
        **changes.get("locator", {}),
    }
    entity = {
        "name": "orders",
        "locator": locator,
        "primary_key": ["id"],
        "columns": COLUMNS,
        "load": changes.get("load", {"mode": "incremental", "cursor_column": "updated_at"}),
    }
    http = {"requests_per_second": 50, **changes.get("http", {})}
    config = source_config(name, "http", conn_id, [entity], http=http)
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return name


def extract(name: str, run_id: str = "scheduled__2026-11-22", end: datetime = END) -> dict[str, Any]:
    return run_stages(name, "orders", run_id, end, stages=("extract_land",))["extract_land"]


def validate(name: str, run_id: str = "scheduled__2026-11-22", end: datetime = END) -> dict[str, Any]:
    return run_stages(name, "orders", run_id, end, stages=("validate",))["validate"]


@pytest.mark.parametrize("style", sorted(PAGING))
def test_every_paging_style_lands_every_record_once(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    name = http_source(tmp_path, monkeypatch, locator={"pagination": PAGING[style]})
    summary = extract(name)
    table = landed_table(summary)
    assert sorted(table.column("id").to_pylist()) == list(range(1, SEEDED + 1))
    assert summary["records_seen"] == SEEDED
    assert summary["quarantined"] == 0
    first = next(r for r in table.to_pylist() if r["id"] == 3)
    assert first["amount"] == Decimal("21.93")  # a string in the API, decimal(12,2) in the lake
    assert table.schema.field("amount").type == pa.decimal128(12, 2)
    assert first["shipping_country"] == "JP"
    assert first["shipping_city"] != "東京"
    assert len(first["shipping_city"]) == 64
    # The fields no column takes are undeclared data: in the sensitive container beside the key, not in the general
    # zone (the entity does not opt in with `undeclared: general`).
    assert "_extra" not in table.column_names
    raw = sensitive_table(summary)
    extra = {r["id"]: r["_extra"] for r in raw.to_pylist()}
    assert json.loads(extra[3]) == {"currency": "EUR", "items": [{"qty": 1, "sku": "SKU-0003"}]}
    assert len(extra) == SEEDED
    checks = {c["name"]: c for c in validate(name)["checks"]}
    assert checks["reconciliation"]["passed"]
    assert checks["reconciliation"]["observed"]["source"] == SEEDED


def test_incremental_run_reads_only_what_changed_since_the_watermark(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = http_source(tmp_path, monkeypatch)
    first = extract(name)
    assert first["rows"] == SEEDED
    assert first["watermark_to"] == "2026-11-01T20:50:00+00:00"  # the largest updated_at seen
    store = ControlStore(control_engine()).ensure_schema()
    store.set_watermark(  # as commit does: naming the run, whose records at that value the next run leaves out
        name,
        "orders",
        first["watermark_to"],
        reason="test: commit of run 1",
        changed_by="test",
        run_id="scheduled__2026-11-22",
    )
    changed = [
        {"id": 7, "customer_id": 1, "status": "shipped", "amount": "1.00", "updated_at": "2026-11-21T10:00:00Z"},
        {"id": 999, "customer_id": 2, "status": "new", "amount": "2.50", "updated_at": "2026-11-21T11:00:00Z"},
    ]
    control(api, "upsert", {"records": changed})
    second = extract(name, "scheduled__2026-11-23", datetime(2026, 11, 23, tzinfo=UTC))
    assert sorted(landed_table(second).column("id").to_pylist()) == [7, 999]
    assert second["watermark_from"] == first["watermark_to"]
    assert second["watermark_to"] == "2026-11-21T11:00:00+00:00"
    store.engine.dispose()


def test_injected_429s_and_5xx_are_retried_and_the_result_is_the_same(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = http_source(tmp_path, monkeypatch)
    clean = extract(name)
    control(api, "faults", {"status": 429, "count": 2, "retry_after": 1})
    control(api, "faults", {"status": 500, "count": 2})
    control(api, "faults", {"status": 503, "count": 1})
    faulty = extract(name, "scheduled__2026-11-23", datetime(2026, 11, 23, tzinfo=UTC))
    assert faulty["requests"] == clean["requests"] + 5
    assert sorted(landed_table(faulty).column("id").to_pylist()) == sorted(landed_table(clean).column("id").to_pylist())
    stats = requests.get(f"{api}/_control/stats", timeout=5).json()
    assert stats["faults"] == 0  # every injected fault was met and outlasted


def test_a_bad_token_fails_at_once_with_a_clear_message_that_does_not_show_it(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_ORDERS_API"])
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_API_BAD", json.dumps({**conn, "password": "not-the-token-123"}))
    name = http_source(tmp_path, monkeypatch, conn_id="orders_api_bad")
    with pytest.raises(AirflowFailException) as failure:  # no retries: the token will not get better
        extract(name)
    message = str(failure.value)
    assert "GET /v1/orders answered 401: invalid or expired bearer token" in message
    assert "check the credentials" in message
    assert "not-the-token-123" not in message
    assert requests.get(f"{api}/_control/stats", timeout=5).json()["requests_served"] == 1  # asked once


@pytest.mark.parametrize(
    "extra",
    [
        {"auth": "api_key"},
        {"auth": "api_key", "api_key_param": "api_key"},
        {"auth": "basic", "login": "sample-user"},
        {"auth": "oauth2", "login": "sample-client", "token_url": "/oauth/token"},
    ],
    ids=["api_key_header", "api_key_param", "basic", "oauth2"],
)
def test_auth_from_the_connection(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_ORDERS_API"])
    login = extra.pop("login", None)
    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_API_ALT", json.dumps({**conn, "login": login, "extra": extra}))
    if extra["auth"] == "oauth2":
        # Tokens that live 1 s (refreshed half-way) and 4 requests a second: the run outlives its first token.
        control(api, "oauth", {"ttl": 1})
    name = http_source(tmp_path, monkeypatch, conn_id="orders_api_alt", http={"requests_per_second": 4})
    assert extract(name)["rows"] == SEEDED
    if extra["auth"] == "oauth2":
        assert requests.get(f"{api}/_control/stats", timeout=5).json()["tokens_issued"] >= 2


def test_malformed_records_are_quarantined_counted_and_reported(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [
        {"id": 9001, "customer_id": 1, "status": "new", "amount": "lots", "updated_at": "2026-11-02T00:00:00Z"},
        {"id": 9002, "status": "new", "amount": "1.00", "updated_at": "2026-11-02T00:00:00Z"},  # no customer_id
    ]
    control(api, "upsert", {"records": bad})
    name = http_source(tmp_path, monkeypatch)
    summary = extract(name)
    assert (summary["rows"], summary["quarantined"], summary["records_seen"]) == (SEEDED, 2, SEEDED + 2)
    container, _, path = summary["quarantine_file"].partition("/")
    assert container == "sensitive"  # raw records may hold PII: never in the general zone
    lines = [json.loads(line) for line in Lake.from_conn_id("lake_wasb", container).get(path).decode().splitlines()]
    reasons = {line["record"]["id"]: line["reason"] for line in lines}
    assert reasons == {
        9001: "field 'amount' (decimal(12,2)): text that is not a decimal number",  # never the value
        9002: "required field 'customer_id' is missing or null",
    }
    assert all(line["where"].startswith("page ") for line in lines)
    checks = {c["name"]: c for c in validate(name)["checks"]}
    assert checks["quarantine"]["passed"] is False
    assert checks["quarantine"]["severity"] == "warn"
    assert checks["reconciliation"]["passed"]
    assert checks["reconciliation"]["observed"] == {
        "source": SEEDED + 2,
        "landed": SEEDED,
        "quarantined": 2,
        "outside_window": 0,
    }

    # A re-run of the run after the source was fixed rewrites the run, and its stale quarantine file goes.
    control(api, "reset", {})
    again = extract(name)
    assert again["quarantine_file"] is None
    assert Lake.from_conn_id("lake_wasb", container).names(path) == []


def test_endless_paging_stops_at_the_page_cap(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paging = {**PAGING["page_number"], "page_size": 50, "max_pages": 3}
    name = http_source(tmp_path, monkeypatch, locator={"pagination": paging})
    with pytest.raises(AirflowFailException, match="still had pages after max_pages=3"):
        extract(name)


def test_other_4xx_fail_at_once_with_the_api_message(api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = http_source(tmp_path, monkeypatch, locator={"endpoint": "/v1/order"})
    with pytest.raises(AirflowFailException, match="GET /v1/order answered 404: Not Found"):
        extract(name)
    assert requests.get(f"{api}/_control/stats", timeout=5).json()["requests_served"] == 1  # asked once


def test_links_to_another_host_are_not_followed_with_the_credentials(api: str) -> None:
    client = ApiClient("orders_api", HttpOptions(), where="test")
    with pytest.raises(SourceRequestError, match="another host"):
        client.url_for("http://attacker.invalid/v1/orders?page=2")
    assert client.url_for("/v1/orders").startswith(api)


def test_an_interval_run_quarantines_a_record_without_its_cursor(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API serves a record whose updated_at is null for the interval asked. Kept only if its cursor is in the
    # interval, it was dropped and counted "outside the window", and no other interval holds it either.
    control(api, "upsert", {"records": [{"id": 9001, "customer_id": 1, "status": "new", "amount": "1.00"}]})
    columns = [{**c, "nullable": True} if c["name"] == "updated_at" else c for c in COLUMNS]
    name = http_source(tmp_path, monkeypatch, load={"mode": "interval", "cursor_column": "updated_at"})
    configs = tmp_path / "configs"
    config = json.loads((configs / f"{name}.json").read_text())
    config["entities"][0]["columns"] = columns
    (configs / f"{name}.json").write_text(json.dumps(config))

    day = datetime(2026, 11, 2, tzinfo=UTC)  # the seeded records' interval: 2026-11-01
    summary = extract(name, "scheduled__2026-11-02", day)

    assert (summary["rows"], summary["quarantined"], summary["records_seen"]) == (SEEDED, 1, SEEDED + 1)
    container, _, path = summary["quarantine_file"].partition("/")
    (line,) = [json.loads(x) for x in Lake.from_conn_id("lake_wasb", container).get(path).decode().splitlines()]
    assert line["record"]["id"] == 9001
    assert line["reason"] == "field 'updated_at' is missing or null: no interval holds a record without its cursor"
    checks = {c["name"]: c for c in validate(name, "scheduled__2026-11-02", day)["checks"]}
    assert checks["reconciliation"]["observed"] == {
        "source": SEEDED + 1,
        "landed": SEEDED,
        "quarantined": 1,
        "outside_window": 0,
    }
