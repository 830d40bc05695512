"""PII protection on the sample CRM through the generated DAG (`airflow dags test`): no raw value of a PII column
reaches the general landing zone or Kafka, the sensitive container holds the raw values of `sensitive` columns,
hashes are stable across runs, and a missing key stops the run before anything is extracted.

The source is a copy of include/source_configs/crm.json under a name of this module's (its own topics, paths and
watermarks) reading the seeded CRM tables.
"""

from __future__ import annotations

import hmac
import io
import json
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text

from ingestion.land.lake import Lake
from ingestion.pii.masking import REDACTED
from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from stack.settings import PII_HASH_KEY
from tests.integration.support import CRM_WRITER_URL, REPO, dags_test, read_committed, sqlite_airflow_env, write_configs

RUN_DATES = ("2026-11-03T02:00:00+00:00", "2026-11-04T02:00:00+00:00")
PII_COLUMNS = {"customers": ("email", "full_name", "phone"), "orders": ("note",)}


def _crm_copy(name: str) -> dict[str, Any]:
    config = json.loads((REPO / "include" / "source_configs" / "crm.json").read_text())
    config.pop("$schema")
    return {**config, "name": name, "retries": {"count": 0}}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sqlite_airflow_env(tmp_path_factory.mktemp("airflow"), write_configs(tmp_path_factory.mktemp("configs")))


@pytest.fixture(scope="module")
def raw_values() -> dict[str, dict[str, list[str]]]:
    """Every non-empty value of every PII column in the source tables."""
    engine = create_engine(CRM_WRITER_URL)
    try:
        with engine.connect() as conn:
            return {
                table: {
                    column: [v for (v,) in conn.execute(text(f"SELECT {column} FROM {table}")) if v]
                    for column in columns
                }
                for table, columns in PII_COLUMNS.items()
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def crm_runs(airflow: dict[str, str]) -> str:
    name = f"p{uuid.uuid4().hex[:8]}"
    write_configs(Path(airflow["INGEST_CONFIG_DIR"]), _crm_copy(name))
    for logical_date in RUN_DATES:
        dags_test(airflow, f"ingest_{name}", logical_date)
    return name


def _parquet_tables(container: str, prefix: str) -> list[tuple[str, pa.Table]]:
    lake = Lake.from_conn_id("lake_wasb", container)
    return [
        (path, pq.read_table(io.BytesIO(lake.get(path)))) for path in lake.names(prefix) if path.endswith(".parquet")
    ]


def _all_text(table: pa.Table) -> str:
    cells = []
    for column in table.columns:
        as_text = column if pa.types.is_string(column.type) else column.cast(pa.string())
        cells.extend(str(v) for v in as_text.to_pylist() if v is not None)
    return "\n".join(cells)


def _assert_no_raw_value(text_blob: str, raw: dict[str, dict[str, list[str]]], where: str) -> None:
    for table, columns in raw.items():
        for column, values in columns.items():
            leaked = [v for v in values if v in text_blob]
            assert not leaked, f"raw {table}.{column} values in {where}: {leaked[:3]}"


def test_no_raw_pii_in_the_general_zone(crm_runs: str, raw_values: dict[str, dict[str, list[str]]]) -> None:
    landed = _parquet_tables("landing", f"{crm_runs}/")
    assert {path.split("/")[1] for path, _ in landed} == {"customers", "orders"}
    assert len(landed) == 4  # two runs of two entities
    lake = Lake.from_conn_id("lake_wasb", "landing")
    manifests = [lake.get(p).decode() for p in lake.names(f"{crm_runs}/") if p.endswith("manifest.json")]
    assert len(manifests) == 4
    _assert_no_raw_value("\n".join([*(_all_text(t) for _, t in landed), *manifests]), raw_values, "the landing zone")
    for path, table in landed:
        if "/customers/" in path:
            assert "full_name" in table.column_names
            assert set(table.column("full_name").to_pylist()) == {REDACTED}
            assert set(table.column("phone").to_pylist()) <= {REDACTED, None}
            assert all(len(h) == 64 for h in table.column("email").to_pylist())


def test_no_raw_pii_in_kafka(crm_runs: str, raw_values: dict[str, dict[str, list[str]]]) -> None:
    for entity in ("customers", "orders"):
        messages = read_committed(f"ingest.{crm_runs}.{entity}")
        assert messages
        text_blob = "\n".join(
            f"{key!r} {value.decode() if value else ''} {headers!r}" for key, value, headers in messages
        )
        _assert_no_raw_value(text_blob, raw_values, f"topic ingest.{crm_runs}.{entity}")


def test_sensitive_container_holds_the_raw_values(crm_runs: str) -> None:
    sensitive = _parquet_tables("sensitive", f"{crm_runs}/")
    assert [path.split("/")[1] for path, _ in sensitive] == ["customers", "customers"]
    engine = create_engine(CRM_WRITER_URL)
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT customer_id, full_name FROM customers")).all())
    engine.dispose()
    for _, table in sensitive:
        assert table.column_names[:2] == ["customer_id", "full_name"]
        assert not set(table.column_names[2:]) - {"_ingest_run_id", "_ingest_source", "_ingest_entity", "_ingested_at"}
        rows = table.select(["customer_id", "full_name"]).to_pylist()
        assert rows
        assert all(row["full_name"] == names[row["customer_id"]] for row in rows)
    assert len(sensitive[0][1]) == 200  # the first run loads every customer, unicode names included
    assert "陈伟" in sensitive[0][1].column("full_name").to_pylist()


def test_hashes_are_equal_across_runs_and_match_the_key(crm_runs: str) -> None:
    by_run: dict[str, dict[int, str]] = defaultdict(dict)
    for _, value, headers in read_committed(f"ingest.{crm_runs}.customers"):
        assert value is not None
        record = json.loads(value)
        by_run[headers["ingest_run_id"].decode()][record["customer_id"]] = record["email"]
    assert len(by_run) == 2
    first, second = by_run.values()
    overlap = set(first) & set(second)
    assert len(overlap) >= 50  # the second run re-reads the lookback hour
    assert all(first[c] == second[c] for c in overlap)
    engine = create_engine(CRM_WRITER_URL)
    with engine.connect() as conn:
        emails = dict(conn.execute(text("SELECT customer_id, email FROM customers")).all())
    engine.dispose()
    for customer_id, hashed in first.items():
        assert hashed == hmac.new(PII_HASH_KEY.encode(), emails[customer_id].encode(), "sha256").hexdigest()


def test_a_missing_key_stops_the_run_before_extraction(airflow: dict[str, str]) -> None:
    name = f"k{uuid.uuid4().hex[:8]}"
    write_configs(Path(airflow["INGEST_CONFIG_DIR"]), _crm_copy(name))
    env = {k: v for k, v in airflow.items() if k != "AIRFLOW_CONN_PII_HASH_KEY"}
    output = dags_test(env, f"ingest_{name}", RUN_DATES[0], succeed=False)
    assert "hashed column(s) ['email'] need(s) the HMAC key in Airflow connection 'pii_hash_key'" in output
    assert "there is no such connection; nothing was extracted" in output
    assert Lake.from_conn_id("lake_wasb", "landing").names(f"{name}/customers/") == []
    store = ControlStore(control_engine())
    try:
        assert store.get_watermark(name, "customers") is None
    finally:
        store.engine.dispose()
