"""The sample REST and SFTP sources end to end: through their generated DAGs (`airflow dags test`), and the shared
guarantees (a re-run publishes nothing again; Kafka down fails publish without moving the watermark, and the retry
is exact).

The sources are copies of include/source_configs/orders_api.json and partner_files.json under names of this
module's own (the SFTP one reads a folder of its own, seeded with the stack's sample files), so the demo's state
and these tests' never mix.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from airflow.providers.sftp.hooks.sftp import SFTPHook

from ingestion.state.engine import control_engine
from ingestion.state.store import CommittedRunRecord, ControlStore
from tests.integration.support import (
    REPO,
    dags_test,
    read_committed,
    run_stages,
    sqlite_airflow_env,
    stack,
    write_configs,
)

CONFIGS = REPO / "include" / "source_configs"
SEED = REPO / "stack" / "seed" / "sftp"


def _copy(config_file: str, name: str, **changes: Any) -> dict[str, Any]:
    config = json.loads((CONFIGS / config_file).read_text())
    config.pop("$schema", None)
    config.update(name=name, retries={"count": 0}, kafka={"publish_timeout_seconds": 10}, **changes)
    return config


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, sample_api_url: str) -> Iterator[dict[str, Any]]:
    api_name, files_name = f"a{uuid.uuid4().hex[:8]}", f"f{uuid.uuid4().hex[:8]}"
    folder = f"inbound/{files_name}"
    hook = SFTPHook(ssh_conn_id="partner_sftp")
    with hook.get_managed_conn() as client:
        client.mkdir(folder)
        for seed in sorted(SEED.iterdir()):
            client.put(str(seed), f"{folder}/{seed.name}")
    files = _copy("partner_files.json", files_name)
    for entity in files["entities"]:
        entity["locator"].update(remote_path=folder, settle_seconds=1)
    config_dir = write_configs(tmp_path_factory.mktemp("configs"), _copy("orders_api.json", api_name), files)
    env = sqlite_airflow_env(tmp_path_factory.mktemp("airflow"), config_dir)
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()
    yield {"env": env, "api": api_name, "files": files_name, "folder": folder, "config_dir": config_dir}
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()


def _store() -> ControlStore:
    return ControlStore(control_engine())


def _published(topic: str, run_id: str) -> list[bytes]:
    return sorted(k or b"" for k, _, headers in read_committed(topic) if headers["ingest_run_id"] == run_id.encode())


def _last(source: str, entity: str) -> CommittedRunRecord:
    store = _store()
    try:
        return store.runs(source, entity, limit=1)[0]
    finally:
        store.engine.dispose()


def test_orders_api_end_to_end_then_only_the_changes(sources: dict[str, Any], sample_api_url: str) -> None:
    name, env = sources["api"], sources["env"]
    topic = f"ingest.{name}.orders"
    dags_test(env, f"ingest_{name}", "2026-11-20T00:00:00+00:00")
    first = _last(name, "orders")
    assert (first.rows_landed, first.rows_published, first.moved_watermark) == (250, 250, True)
    keys = _published(topic, first.run_id)
    assert len(keys) == 250
    assert len(set(keys)) == 250  # every record once
    checks = {c["name"]: c for c in first.check_results}
    assert checks["reconciliation"]["passed"]
    assert checks["reconciliation_kafka"]["observed"] == {"landed": 250, "kafka": 250}

    changed = [
        {
            "id": 4,
            "customer_id": 5,
            "status": "shipped",
            "amount": "9.99",
            "currency": "EUR",
            "updated_at": "2026-11-21T08:00:00Z",
        },
        {
            "id": 251,
            "customer_id": 6,
            "status": "new",
            "amount": "1.00",
            "currency": "EUR",
            "updated_at": "2026-11-21T09:00:00Z",
        },
    ]
    requests.post(f"{sample_api_url}/_control/upsert", json={"records": changed}, timeout=5).raise_for_status()
    dags_test(env, f"ingest_{name}", "2026-11-20T00:30:00+00:00")
    second = _last(name, "orders")
    assert second.run_id != first.run_id
    assert _published(topic, second.run_id) == [b"251", b"4"]
    store = _store()
    history = [(h.old_value, h.new_value) for h in reversed(store.history(name, "orders"))]
    assert history == [(None, "2026-11-01T20:50:00+00:00"), ("2026-11-01T20:50:00+00:00", "2026-11-21T09:00:00+00:00")]
    store.engine.dispose()


def test_partner_files_end_to_end_then_nothing_then_a_new_file(sources: dict[str, Any]) -> None:
    name, env, folder = sources["files"], sources["env"], sources["folder"]
    dags_test(env, f"ingest_{name}", "2026-11-20T06:00:00+00:00")
    counts = {e: _last(name, e).rows_published for e in ("customers", "orders", "events")}
    assert counts == {"customers": 3, "orders": 2, "events": 3}
    events = [json.loads(v or b"") for _, v, _ in read_committed(f"ingest.{name}.events")]
    assert {e["event_id"]: e["at"] for e in events}["e-3"] == "2026-11-01T08:45:00.000000Z"  # +01:00 to UTC
    assert all(e["_source_file"] == "events_2026-11-01.jsonl" for e in events)
    customers = [json.loads(v or b"") for _, v, _ in read_committed(f"ingest.{name}.customers")]
    assert "name" not in customers[0]  # pii_strategy drop
    assert all("@" not in (c["email"] or "") for c in customers)  # hashed

    dags_test(env, f"ingest_{name}", "2026-11-21T06:00:00+00:00")
    assert {e: _last(name, e).rows_landed for e in counts} == {"customers": 0, "orders": 0, "events": 0}

    with SFTPHook(ssh_conn_id="partner_sftp").get_managed_conn() as client:
        client.putfo(
            io.BytesIO(
                b'{"event_id": "e-4", "partner_customer_id": "P-1001", "type": "login", "at": "2026-11-22T07:00:00Z"}\n'
            ),
            f"{folder}/events_2026-11-22.jsonl",
        )
    dags_test(env, f"ingest_{name}", "2026-11-22T06:00:00+00:00")
    last = _last(name, "events")
    assert last.rows_published == 1
    assert _published(f"ingest.{name}.events", last.run_id) == [b"e-4"]


@pytest.mark.parametrize("kind", ["api", "files"])
def test_rerun_publishes_nothing_and_kafka_down_keeps_the_watermark(
    sources: dict[str, Any], monkeypatch: pytest.MonkeyPatch, sample_api_url: str, kind: str
) -> None:
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(sources["config_dir"]))
    name = sources[kind]
    entity = "orders"
    topic = f"ingest.{name}.{entity}"
    end = datetime(2026, 11, 25, tzinfo=UTC)
    if kind == "api":
        change = {
            "id": 5,
            "customer_id": 1,
            "status": "paid",
            "amount": "5.00",
            "currency": "EUR",
            "updated_at": "2026-11-24T10:00:00Z",
        }
        requests.post(f"{sample_api_url}/_control/upsert", json={"records": [change]}, timeout=5).raise_for_status()
    else:
        with SFTPHook(ssh_conn_id="partner_sftp").get_managed_conn() as client:
            body = (
                "partner_order_id,partner_customer_id,amount,currency,ordered_at\nPO-9,P-1,3.00,EUR,2026-11-24T10:00Z\n"
            )
            client.putfo(io.BytesIO(gzip.compress(body.encode())), f"{sources['folder']}/orders_2026-11-24.csv.gz")
    store = _store()
    mark = store.get_watermark(name, entity)
    run_id = f"manual__outage_{kind}"
    results = run_stages(name, entity, run_id, end, stages=("extract_land", "validate"))
    rows = results["extract_land"]["rows"]  # the change (and, when this test runs alone, the first load)
    assert rows >= 1
    stack("stop", "kafka")
    try:
        with pytest.raises(Exception, match=r"(?i)kafka|transaction|timed out|broker"):
            run_stages(name, entity, run_id, end, stages=("publish",), results=results)
        assert store.get_watermark(name, entity) == mark  # commit never ran
    finally:
        stack("start", "kafka")
    assert _published(topic, run_id) == []  # nothing of the failed attempt is visible
    run_stages(name, entity, run_id, end, stages=("publish", "commit"), results=results)
    assert len(_published(topic, run_id)) == rows
    moved = store.get_watermark(name, entity)
    assert moved != mark

    # The whole run again: nothing new lands, nothing is published again, the watermark stays.
    again = run_stages(name, entity, run_id, end)
    assert again["extract_land"]["already_committed"] is True
    assert again["commit"]["outcome"] == "already_committed"
    assert len(_published(topic, run_id)) == rows
    assert store.get_watermark(name, entity) == moved
    store.engine.dispose()
