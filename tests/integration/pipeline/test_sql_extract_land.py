"""extract_land for SQL entities through the real operator, on the stack's Postgres, MariaDB, Azurite and control DB.

Each test builds its own source table, so tests never disturb each other or the seeded samples.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from ingestion.errors import StageNotImplementedError
from ingestion.land.lake import Lake
from ingestion.operators import ExtractLandOperator
from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from tests.integration.support import crm_table, sql_source_config, write_configs

REPO = Path(__file__).resolve().parents[3]
COLUMNS = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "paid", "type": "boolean"},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    name = f"t{uuid.uuid4().hex[:8]}"
    columns = "order_id bigint PRIMARY KEY, customer text, amount numeric(12,2) NOT NULL, paid boolean, "
    with crm_table(f"{name}_orders", columns + "updated_at timestamptz NOT NULL") as writer:
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


def _context(run_id: str, end: datetime, conf: dict | None = None) -> dict[str, Any]:
    dag_run = SimpleNamespace(
        dag_id="ingest_x",
        run_id=run_id,
        run_type="scheduled",
        data_interval_start=end - timedelta(days=1),
        data_interval_end=end,
        run_after=end,
        conf=conf or {},
    )
    return {"dag_run": dag_run, "ti": SimpleNamespace(try_number=1)}


def _run(name: str, run_id: str, end: datetime, conf: dict | None = None) -> dict[str, Any]:
    op = ExtractLandOperator(task_id="extract_land", source_name=name, entity_name="orders")
    return op.execute(_context(run_id, end, conf))  # type: ignore[arg-type]


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
    first = _run(name, "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    # What commit will do once it exists: move the watermark to what the run read up to.
    store = ControlStore(control_engine()).ensure_schema()
    store.set_watermark(name, "orders", first["watermark_to"], reason="test: commit of run 1", changed_by="test")
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
    first = _run(name, "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    store = ControlStore(control_engine()).ensure_schema()
    store.set_watermark(name, "orders", first["watermark_to"], reason="test", changed_by="test")
    store.engine.dispose()
    nothing = _run(name, "scheduled__2026-11-03", datetime(2026, 11, 3, tzinfo=UTC))
    assert (nothing["rows"], nothing["files"], nothing["window"]) == (0, [], "empty (nothing new at the source)")
    refresh = _run(name, "manual__refresh", datetime(2026, 11, 3, 1, tzinfo=UTC), {"full_refresh": True})
    assert refresh["rows"] == 500


def test_pii_columns_are_refused_until_masking_exists(source: dict[str, Any]) -> None:
    config, name = source["config"], source["name"]
    config["entities"][0]["columns"][1].update(pii=True, pii_strategy="hash")
    (source["config_dir"] / f"{name}.json").write_text(json.dumps(config))
    with pytest.raises(StageNotImplementedError, match=r"PII columns \['customer'\] need the masking stage"):
        _run(name, "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    assert Lake.from_conn_id("lake_wasb", "landing").names(f"{name}/") == []
