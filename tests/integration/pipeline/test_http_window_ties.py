"""Rows tied with the watermark on a REST entity: the incremental parameter is inclusive (`updated_since` of the
sample API returns records at exactly that time), and the records the run that set the watermark published are
left out by primary key, counted for reconciliation.

The sample API runs here as a process of this test's own (this repository's app, on a free port), so the test
neither depends on nor disturbs the shared one's state."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.support import (
    landed_table,
    read_committed,
    run_stages,
    sample_api_process,
    source_config,
    write_configs,
)

COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "type": "bigint", "nullable": False},
    {"name": "status", "type": "string", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]
SEEDED = 250  # five minutes apart: the newest at 2026-11-01T20:50:00Z
NEWEST = "2026-11-01T20:50:00Z"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """(base URL, connection id) of a sample API of this test's own."""
    token = os.environ["STACK_SAMPLE_API_TOKEN"]
    with sample_api_process(token) as url:
        conn_id = f"api_{uuid.uuid4().hex[:8]}"
        port = int(url.rsplit(":", 1)[1])
        connection = {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": token}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        yield url, conn_id


def test_records_with_the_watermarks_value_are_read_and_the_published_ones_are_not(
    api: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, conn_id = api
    name = f"r{uuid.uuid4().hex[:8]}"
    entity = {
        "name": "orders",
        "locator": {
            "kind": "http",
            "endpoint": "/v1/orders",
            "record_path": "data",
            "pagination": {"style": "page_number", "page_size": 100},
            "incremental_param": "updated_since",
            "extra_column": None,
        },
        "primary_key": ["id"],
        "columns": COLUMNS,
        "load": {"mode": "incremental", "cursor_column": "updated_at"},
    }
    config = source_config(name, "http", conn_id, [entity], retries={"count": 0}, http={"requests_per_second": 100})
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))

    first = run_stages(name, "orders", "scheduled__2026-11-22", datetime(2026, 11, 22, tzinfo=UTC))
    assert first["extract_land"]["rows"] == SEEDED
    assert first["extract_land"]["watermark_to"] == "2026-11-01T20:50:00+00:00"

    tied = [{"id": 1000 + i, "status": "new", "updated_at": NEWEST} for i in range(20)]
    requests.post(f"{url}/_control/upsert", json={"records": tied}, timeout=5).raise_for_status()
    second = run_stages(name, "orders", "scheduled__2026-11-23", datetime(2026, 11, 23, tzinfo=UTC))

    landed = second["extract_land"]
    assert landed["rows"] == 20
    assert sorted(landed_table(landed).column("id").to_pylist()) == list(range(1000, 1020))
    assert (landed["records_seen"], landed["left_out_at_boundary"]) == (21, 1)  # record 250 was published by run 1
    checks = {c["name"]: c for c in second["validate"]["checks"]}
    assert checks["reconciliation"]["passed"], checks["reconciliation"]["detail"]
    published = [
        json.loads(value)["id"]
        for _key, value, headers in read_committed(f"ingest.{name}.orders")
        if headers["ingest_run_id"] == b"scheduled__2026-11-23"
    ]
    assert sorted(published) == list(range(1000, 1020))
