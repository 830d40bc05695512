"""Reconciliation on live tables, on the stack's Postgres and MariaDB: extract_land counts its window in the same
consistent snapshot it reads, so rows another connection writes while the extract runs neither fail validate nor
go unaccounted. The writes happen while extract_land is paused after its first landed batch (the `land.batch`
fault point)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.pipeline.sql_tables import DATABASES, insert_orders, orders_table, sql_entity
from tests.integration.support import run_stages, source_config, write_configs

T0 = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 2, tzinfo=UTC)
ROWS = 3000


def _extract_while_the_table_changes(name: str, faults: Path, change: Any) -> dict[str, Any]:
    """extract_land in a thread; once it has landed its first batch, `change()` writes to the source."""
    armed = faults / f"land.batch@{name}.orders"
    armed.write_text(json.dumps({"action": "pause", "after": 1}))
    paused = armed.with_name(armed.name + ".paused")
    results: dict[str, Any] = {}
    failure: list[BaseException] = []

    def extract() -> None:
        try:
            run_stages(name, "orders", "scheduled__2026-11-02", END, stages=("extract_land",), results=results)
        except BaseException as error:  # noqa: BLE001 - raised in the test's thread below
            failure.append(error)

    worker = threading.Thread(target=extract, name="extract_land")
    worker.start()
    deadline = time.monotonic() + 120
    while not paused.exists() and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert paused.exists(), failure or "extract_land did not reach its first landed batch"
    change()
    paused.unlink()
    worker.join()
    if failure:
        raise failure[0]
    return results


@pytest.mark.parametrize("database", sorted(DATABASES))
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_a_table_written_to_during_the_extract_reconciles(
    database: str, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"s{uuid.uuid4().hex[:8]}_orders"
    name = table.removesuffix("_orders")
    load = {"mode": mode} if mode == "full" else {"mode": mode, "cursor_column": "updated_at"}
    config = source_config(name, "sql", DATABASES[database]["conn_id"], [sql_entity(database, table, load)])
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv("INGEST_FAULT_DIR", str(faults))
    with orders_table(database, table) as writer:
        insert_orders(writer, table, [(i, i, T0 + timedelta(seconds=i)) for i in range(1, ROWS + 1)])

        def change() -> None:
            # New rows (a full load's count grows), and rows updated now: out of an incremental window.
            insert_orders(writer, table, [(ROWS + i, ROWS + i, datetime.now(UTC)) for i in range(1, 26)])
            with writer.begin() as conn:
                conn.execute(
                    text(f"UPDATE {table} SET updated_at = :now WHERE order_id <= 40"),
                    {"now": datetime.now(UTC).replace(tzinfo=None) if database == "mariadb" else datetime.now(UTC)},
                )

        results = _extract_while_the_table_changes(name, faults, change)
        assert results["extract_land"]["rows"] == ROWS  # the table as it was when the read began
        validated = run_stages(name, "orders", "scheduled__2026-11-02", END, stages=("validate",), results=results)

    checks = {c["name"]: c for c in validated["validate"]["checks"]}
    reconciliation = checks["reconciliation"]
    assert reconciliation["passed"], reconciliation["detail"]
    assert (reconciliation["observed"]["source"], reconciliation["observed"]["landed"]) == (ROWS, ROWS)
    assert "snapshot" in reconciliation["detail"]
    assert results["extract_land"]["source_count"] == ROWS
