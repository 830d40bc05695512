"""Validation on the real stack: an error-severity check stops the run at validate (nothing published, no commit,
watermark unchanged), a warn check lets it publish and records the warning, and reconciliation catches a source
count that no longer matches what was landed. Check results land in the control database either way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from confluent_kafka.admin import AdminClient
from sqlalchemy import text

from ingestion.operators import ExtractLandOperator, ValidateOperator
from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from tests.integration.support import (
    bootstrap_servers,
    crm_table,
    dags_test,
    read_committed,
    sql_source_config,
    sqlite_airflow_env,
    stage_context,
    write_configs,
)

COLUMNS = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "status", "type": "string", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]
ROWS = 120  # every 40th status is 'lost', which the accepted_values check does not accept


@pytest.fixture
def table(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    name = f"v{uuid.uuid4().hex[:8]}"
    with crm_table(
        f"{name}_orders", "order_id bigint PRIMARY KEY, status text NOT NULL, updated_at timestamptz NOT NULL"
    ) as writer:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {name}_orders SELECT g, CASE WHEN g % 40 = 0 THEN 'lost' ELSE 'paid' END, "
                    f"timestamptz '2026-11-01 00:00+00' + g * interval '1 minute' FROM generate_series(1, {ROWS}) g"
                )
            )
        yield name, writer


def _config(name: str, severity: str, mode: str = "full") -> dict[str, Any]:
    load = {"mode": mode} if mode == "full" else {"mode": mode, "cursor_column": "updated_at"}
    entity = {
        "name": "orders",
        "locator": {"kind": "sql", "schema": "public", "table": f"{name}_orders"},
        "primary_key": ["order_id"],
        "columns": COLUMNS,
        "load": load,
        "checks": [
            {"kind": "not_null", "columns": ["order_id", "status"]},
            {"kind": "unique", "columns": ["order_id"]},
            {
                "kind": "accepted_values",
                "columns": ["status"],
                "params": {"values": ["paid", "new"]},
                "severity": severity,
            },
            {"kind": "row_count", "params": {"min": 1, "max": 10000}},
        ],
    }
    return sql_source_config(name, [entity], retries={"count": 0})


def _store() -> ControlStore:
    return ControlStore(control_engine())


def _topic_exists(topic: str) -> bool:
    return topic in AdminClient({"bootstrap.servers": bootstrap_servers()}).list_topics(timeout=30).topics


def test_error_check_stops_the_run_and_warn_check_lets_it_publish(table: tuple[str, Any], tmp_path: Path) -> None:
    name, _ = table
    configs = write_configs(tmp_path / "configs", _config(name, "error"))
    airflow = sqlite_airflow_env(tmp_path / "airflow", configs)
    topic = f"ingest.{name}.orders"

    output = dags_test(airflow, f"ingest_{name}", "2026-11-02", succeed=False)
    # The landed rows of the offenders, then the values (status is not a PII column).
    assert "accepted_values(status): 3 value(s) of status not in ['paid', 'new']; first at landed row(s) [" in output
    assert "e.g. ['lost']" in output
    assert not _topic_exists(topic)  # publish never ran
    store = _store()
    try:
        assert store.runs(name, "orders") == []  # no commit
        assert store.get_watermark(name, "orders") is None
        results = {r["check_name"]: r for r in store.check_results(name, "orders")}
        assert results["accepted_values(status)"]["passed"] is False
        assert results["accepted_values(status)"]["severity"] == "error"
        assert results["accepted_values(status)"]["observed"]["violations"] == 3
        assert all(
            results[n]["passed"] for n in ("landed_structure", "reconciliation", "unique(order_id)", "row_count")
        )

        write_configs(configs, _config(name, "warn"))
        dags_test(airflow, f"ingest_{name}", "2026-11-03")
        assert len(read_committed(topic)) == ROWS
        (record,) = store.runs(name, "orders")
        on_record = {r["name"]: r for r in record.check_results}
        assert on_record["accepted_values(status)"]["passed"] is False
        assert on_record["accepted_values(status)"]["severity"] == "warn"
        assert on_record["reconciliation_kafka"]["observed"] == {"landed": ROWS, "kafka": ROWS}
        latest = {r["check_name"]: r for r in store.check_results(name, "orders")}
        assert latest["accepted_values(status)"]["severity"] == "warn"
        assert latest["accepted_values(status)"]["run_id"] == record.run_id
    finally:
        store.engine.dispose()


def test_a_row_committed_late_into_the_window_fails_validate(
    table: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, writer = table
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", _config(name, "warn", "interval"))))
    context = stage_context("scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    landed = ExtractLandOperator(task_id="e", source_name=name, entity_name="orders").execute(context)
    assert (landed["rows"], landed["source_count"]) == (ROWS, ROWS)  # counted in the read's snapshot
    # A row committed late inside the run's closed window, after extract_land read it: no later run reads it.
    with writer.begin() as conn:
        conn.execute(text(f"INSERT INTO {name}_orders VALUES (9999, 'paid', timestamptz '2026-11-01 12:00+00')"))
    with pytest.raises(
        AirflowFailException,
        match=r"late_rows: 1 row\(s\) arrived in the run's window after extract_land read it",
    ):
        ValidateOperator(task_id="v", source_name=name, entity_name="orders").execute(context)
    store = _store()
    try:
        results = {r["check_name"]: r for r in store.check_results(name, "orders")}
    finally:
        store.engine.dispose()
    assert results["reconciliation"]["passed"]  # what was read was landed
    assert results["reconciliation"]["observed"] == {"source": ROWS, "landed": ROWS, "left_out_at_boundary": 0}
    assert results["late_rows"]["observed"] == {"read": ROWS, "now": ROWS + 1}


def test_rows_with_a_null_cursor_are_reported_as_never_read_by_incremental_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `updated_at` set only on update: a row never updated has a NULL cursor. No window of the cursor holds it, and
    # reconciliation, counting the same window, balances: without this warning the row is lost unseen.
    name = f"n{uuid.uuid4().hex[:8]}"
    nullable = [*COLUMNS[:2], {"name": "updated_at", "type": "timestamp"}]
    with crm_table(f"{name}_orders", "order_id bigint PRIMARY KEY, status text NOT NULL, updated_at timestamptz") as w:
        with w.begin() as conn:
            conn.execute(text(f"INSERT INTO {name}_orders VALUES (1, 'paid', '2026-11-01 10:00+00'), (2, 'new', NULL)"))
        config = _config(name, "warn", "incremental")
        config["entities"][0]["columns"] = nullable
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
        context = stage_context("scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
        landed = ExtractLandOperator(task_id="e", source_name=name, entity_name="orders").execute(context)
        assert (landed["rows"], landed["source_count"]) == (1, 1)  # the first run's window, too, is up to a cursor
        validated = ValidateOperator(task_id="v", source_name=name, entity_name="orders").execute(context)
        store = _store()
        try:
            results = {r["check_name"]: r for r in store.check_results(name, "orders")}
        finally:
            store.engine.dispose()
        assert validated["warnings"] >= 1  # a warning: the run goes on
        assert results["null_cursor"]["passed"] is False
        assert results["null_cursor"]["severity"] == "warn"
        assert results["null_cursor"]["observed"] == {"null_cursor_rows": 1}
        assert "1 row(s) at the source have a NULL updated_at" in results["null_cursor"]["detail"]
        assert results["reconciliation"]["passed"]

        # Once the row has a cursor value it is read, and there is nothing to report. (A cursor declared
        # `nullable: false` is not counted either: drift refuses it while the source column allows NULL.)
        with w.begin() as conn:
            conn.execute(text(f"UPDATE {name}_orders SET updated_at = '2026-11-02 10:00+00' WHERE order_id = 2"))
        later = stage_context("scheduled__2026-11-03", datetime(2026, 11, 3, tzinfo=UTC))
        landed = ExtractLandOperator(task_id="e", source_name=name, entity_name="orders").execute(later)
        assert landed["rows"] == 2  # no run committed the first: both rows, the one that had no cursor included
        ValidateOperator(task_id="v", source_name=name, entity_name="orders").execute(later)
        store = _store()
        try:
            latest = [r for r in store.check_results(name, "orders") if r["run_id"] == "scheduled__2026-11-03"]
        finally:
            store.engine.dispose()
        assert latest  # the second run's checks were recorded
        assert "null_cursor" not in {r["check_name"] for r in latest}
