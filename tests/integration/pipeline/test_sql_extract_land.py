"""extract_land for SQL entities through the real operator, on the stack's Postgres, MariaDB, Azurite and control DB.

Each test builds its own source table, so tests never disturb each other or the seeded samples.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from ingestion.land.lake import Lake
from ingestion.operators import ExtractLandOperator
from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from tests.integration.support import (
    ORDERS_COLUMNS,
    ORDERS_TABLE_SQL,
    crm_table,
    sensitive_table,
    sql_source_config,
    stage_context,
    write_configs,
)

REPO = Path(__file__).resolve().parents[3]
COLUMNS = ORDERS_COLUMNS
RUN_1 = "scheduled__2026-11-02"


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    name = f"t{uuid.uuid4().hex[:8]}"
    with crm_table(f"{name}_orders", ORDERS_TABLE_SQL) as writer:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {name}_orders SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'Zoë ' || g END, "
                    "g * 1.25, g % 2 = 0, timestamptz '2026-11-01 00:00+00' + g * interval '1 minute' "
                    "FROM generate_series(1, 500) g"
                )
            )
        entity = {
            "name": "orders",
            "locator": {"kind": "sql", "schema": "public", "table": f"{name}_orders"},
            "primary_key": ["order_id"],
            "columns": [dict(c) for c in COLUMNS],  # a copy: a test may change its config
            "load": {"mode": "incremental", "cursor_column": "updated_at", "lookback_minutes": 0},
        }
        config = sql_source_config(name, [entity])
        config_dir = write_configs(tmp_path / "configs", config)
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(config_dir))
        yield {"name": name, "writer": writer, "config_dir": config_dir, "config": config}


def _run(name: str, run_id: str, end: datetime, conf: dict | None = None) -> dict[str, Any]:
    op = ExtractLandOperator(task_id="extract_land", source_name=name, entity_name="orders")
    return op.execute(stage_context(run_id, end, conf))  # type: ignore[arg-type]


def _landed(summary: dict[str, Any]) -> pa.Table:
    lake = Lake.from_conn_id("lake_wasb", summary["container"])
    tables = [pq.read_table(io.BytesIO(lake.get(path))) for path in summary["files"]]
    return pa.concat_tables(tables) if tables else pa.table({})


def _source_rows(writer: Any, name: str) -> list[dict[str, Any]]:
    with writer.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {name}_orders ORDER BY order_id")).mappings().all()
    return [{**r, "updated_at": r["updated_at"].astimezone(UTC)} for r in rows]


def test_first_run_lands_the_table_row_by_row_and_a_rerun_adds_no_file(source: dict[str, Any]) -> None:
    name, writer = source["name"], source["writer"]
    end = datetime(2026, 11, 2, tzinfo=UTC)
    summary = _run(name, "scheduled__2026-11-02", end)
    assert summary["rows"] == 500
    assert summary["watermark_from"] is None
    assert summary["watermark_to"] == "2026-11-01T08:20:00+00:00"  # max(updated_at): row 500
    table = _landed(summary)
    assert table.schema.field("amount").type == pa.decimal128(12, 2)
    landed = sorted(table.select([c["name"] for c in COLUMNS]).to_pylist(), key=lambda r: r["order_id"])
    assert landed == _source_rows(writer, name)

    lake = Lake.from_conn_id("lake_wasb", "landing")
    before = lake.names(f"{name}/orders/")
    again = _run(name, "scheduled__2026-11-02", end)  # the same run again: same paths, overwritten
    assert again["files"] == summary["files"]
    assert lake.names(f"{name}/orders/") == before


def test_incremental_run_lands_only_rows_changed_past_the_watermark(source: dict[str, Any]) -> None:
    name, writer = source["name"], source["writer"]
    first = _run(name, RUN_1, datetime(2026, 11, 2, tzinfo=UTC))
    # What commit does: move the watermark to what the run read up to, naming the run (whose rows at that value
    # the next run leaves out).
    store = ControlStore(control_engine()).ensure_schema()
    store.set_watermark(
        name, "orders", first["watermark_to"], reason="test: commit of run 1", changed_by="test", run_id=RUN_1
    )
    recent = datetime.now(UTC) - timedelta(minutes=5)
    with writer.begin() as conn:
        conn.execute(
            text(f"UPDATE {name}_orders SET paid = NOT paid, updated_at = :t WHERE order_id IN (7, 8)"), {"t": recent}
        )
        conn.execute(text(f"INSERT INTO {name}_orders VALUES (501, 'new', 9.99, true, :t)"), {"t": recent})
        # Committed a moment ago: inside the safety margin, so not read yet.
        conn.execute(text(f"INSERT INTO {name}_orders VALUES (502, 'late', 1.00, true, now())"))

    second = _run(name, "scheduled__2026-11-03", datetime(2026, 11, 3, tzinfo=UTC))
    assert sorted(_landed(second).column("order_id").to_pylist()) == [7, 8, 501]
    assert second["watermark_from"] == first["watermark_to"]
    # Row 502 made max(cursor) "now", so the bound is now - 60 s: above the rows read, below the one left for later.
    assert recent < datetime.fromisoformat(second["watermark_to"]) < datetime.now(UTC) - timedelta(seconds=59)
    assert second["files"] != first["files"]  # a new run, its own files

    store.engine.dispose()


def test_full_refresh_conf_reads_everything_again(source: dict[str, Any]) -> None:
    name = source["name"]
    first = _run(name, RUN_1, datetime(2026, 11, 2, tzinfo=UTC))
    store = ControlStore(control_engine()).ensure_schema()
    store.set_watermark(name, "orders", first["watermark_to"], reason="test", changed_by="test", run_id=RUN_1)
    store.engine.dispose()
    nothing = _run(name, "scheduled__2026-11-03", datetime(2026, 11, 3, tzinfo=UTC))
    # Only the row at the watermark's value is in the window, and run 1 landed it.
    high = first["watermark_to"]
    assert (nothing["rows"], nothing["files"], nothing["window"]) == (0, [], f"[{high}, {high}]")
    assert nothing["left_out_at_boundary"] == 1
    refresh = _run(name, "manual__refresh", datetime(2026, 11, 3, 1, tzinfo=UTC), {"full_refresh": True})
    assert refresh["rows"] == 500


def _drift(source: dict[str, Any], policy: str, sql: str, **column_changes: Any) -> None:
    """Change the source table, and the entity's schema_drift policy (and declared columns) in its config."""
    with source["writer"].begin() as conn:
        conn.execute(text(sql.format(table=f"{source['name']}_orders")))
    config = source["config"]
    entity = config["entities"][0]
    entity["schema_drift"] = policy
    for name, changes in column_changes.items():
        next(c for c in entity["columns"] if c["name"] == name).update(changes)
    (source["config_dir"] / f"{source['name']}.json").write_text(json.dumps(config))


def _recorded_drift(name: str) -> dict[str, Any]:
    store = ControlStore(control_engine())
    try:
        (result,) = store.check_results(name, "orders")
    finally:
        store.engine.dispose()
    return result


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("ALTER TABLE {table} ADD COLUMN region text", "new: region (TEXT)"),
        ("ALTER TABLE {table} DROP COLUMN paid", "missing: paid"),
        # a float (its text may round): an integer would be no drift, its text is exact
        (
            "ALTER TABLE {table} ALTER COLUMN customer TYPE double precision USING NULL",
            "retyped: customer string -> double",
        ),
    ],
)
def test_drift_fails_the_run_under_fail_and_lands_nothing(source: dict[str, Any], sql: str, message: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    _drift(source, "fail", sql)
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        _run(source["name"], "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    assert Lake.from_conn_id("lake_wasb", "landing").names(f"{source['name']}/") == []
    recorded = _recorded_drift(source["name"])
    assert (recorded["kind"], recorded["passed"], recorded["severity"]) == ("schema_drift", False, "error")
    assert message in recorded["detail"]


def test_drift_under_warn_lands_the_declared_columns(source: dict[str, Any]) -> None:
    _drift(
        source, "warn", "ALTER TABLE {table} ADD COLUMN region text DEFAULT 'eu'; ALTER TABLE {table} DROP COLUMN paid"
    )
    summary = _run(source["name"], "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    table = _landed(summary)
    assert table.column_names[:5] == [c["name"] for c in COLUMNS]  # region not landed, paid landed as NULL
    assert table.column("paid").null_count == 500
    assert summary["schema_drift"]["added"][0]["name"] == "region"
    assert summary["schema_drift"]["missing"] == ["paid"]
    assert "columns" not in summary  # the declared ones


def test_drift_under_evolve_lands_the_source_columns(source: dict[str, Any]) -> None:
    _drift(
        source,
        "evolve",
        "ALTER TABLE {table} ADD COLUMN region text DEFAULT 'eu'; ALTER TABLE {table} DROP COLUMN paid; "
        "ALTER TABLE {table} ALTER COLUMN amount TYPE numeric(14,3)",
    )
    summary = _run(source["name"], "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    table = _landed(summary)
    assert table.schema.field("amount").type == pa.decimal128(14, 3)
    assert table.column("paid").null_count == 500
    assert [c["name"] for c in summary["columns"]] == ["order_id", "customer", "amount", "paid", "updated_at", "region"]
    # The new column is undeclared data: raw in the sensitive container beside the key, not in the general zone.
    assert "region" not in table.column_names
    assert sensitive_table(summary).select(["order_id", "region"]).num_rows == 500
    assert set(sensitive_table(summary).column("region").to_pylist()) == {"eu"}
    assert summary["schema_drift"]["retyped"][0]["name"] == "amount"


def test_a_declared_not_null_column_gone_cannot_land_under_warn(source: dict[str, Any]) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    _drift(source, "warn", "ALTER TABLE {table} DROP COLUMN amount")
    with pytest.raises(AirflowFailException, match=r"NOT NULL column\(s\) \['amount'\] are gone"):
        _run(source["name"], "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))


def test_a_value_the_source_database_cannot_cast_fails_at_once_without_quoting_it(
    source: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    name = source["name"]
    entity = {
        "name": "orders",
        "locator": {"kind": "sql", "query": f"SELECT order_id, customer::integer AS customer_no FROM {name}_orders"},
        "primary_key": ["order_id"],
        "columns": [
            {"name": "order_id", "type": "bigint", "nullable": False},
            {"name": "customer_no", "type": "integer"},
        ],
        "load": {"mode": "full"},
    }
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "query", sql_source_config(name, [entity]))))
    with pytest.raises(AirflowFailException) as failure:  # terminal: the same rows would fail the same way
        _run(name, RUN_1, datetime(2026, 11, 2, tzinfo=UTC))
    message = str(failure.value)
    # Postgres says: invalid input syntax for type integer: "Zoë 1"; the statement would follow in SQLAlchemy's text.
    # Read through ADBC, whose stream error carries libpq's text without a SQLSTATE.
    assert "refused the read (libpq): invalid input syntax for type integer: …" in message
    assert "Zoë" not in message
    assert "SELECT" not in message
