"""`scripts/ingest test-connection <source>` on the local stack: the sample configs pass every check; a wrong password
or a column dropped at the source fails it (exit 1) naming the entity and field, never the secret; the probe leaves
no record a read_committed consumer sees.

The configs are the repository's samples in a folder of each test's own, with a topic template of its own, so the
probe's topics are this test's and the sample topics stay as the runs left them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.integration.pipeline.sql_tables import DATABASES, ORDER_COLUMNS, orders_table
from tests.integration.support import REPO, read_committed, source_config, write_configs

SAMPLES = {"crm": ["customers", "orders"], "orders_api": ["orders"], "partner_files": ["customers", "orders", "events"]}
WRONG_PASSWORD = "not-the-password-7f3a9c"


def _sample_configs(folder: Path) -> str:
    """The repository's source configs in `folder`, with a topic template of this test's; returns the topics' prefix."""
    shutil.copytree(REPO / "include" / "source_configs", folder)
    prefix = f"probe-{uuid.uuid4().hex[:8]}"
    defaults_file = folder / "_defaults.json"
    defaults = json.loads(defaults_file.read_text())
    defaults["kafka"]["topic_template"] = prefix + ".{source}.{entity}"
    defaults_file.write_text(json.dumps(defaults))
    return prefix


def _test_connection(folder: Path, source: str, **env: str) -> tuple[int, list[str], str]:
    """The command as a person runs it: exit code, the check lines, and all it printed."""
    result = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(folder), "test-connection", source],
        env={**os.environ, "INGEST_ENV": "dev", **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(("ok  ", "FAIL  "))]
    return result.returncode, lines, result.stdout + result.stderr


def _connection_with_password(conn_var: str, password: str) -> str:
    connection: dict[str, Any] = json.loads(os.environ[conn_var])
    return json.dumps({**connection, "password": password})


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_sample_source_passes_every_check_and_leaves_no_visible_record(tmp_path: Path, source: str) -> None:
    folder = tmp_path / "configs"
    prefix = _sample_configs(folder)
    code, lines, output = _test_connection(folder, source)
    assert code == 0, output
    assert lines, output
    assert all(line.startswith("ok  ") for line in lines), output
    for entity in SAMPLES[source]:
        assert any(line.startswith(f"ok  {source}.{entity}: ") and "declared column" in line for line in lines), lines
        topic = f"{prefix}.{source}.{entity}"
        assert f"ok  {source}.{entity}: topic {topic} through kafka_default: a probe message was sent" in output
        assert read_committed(topic) == []  # the probe's transaction was aborted
    for container in ("landing", "sensitive"):
        assert f"ok  landing container {container} through lake_wasb: a probe blob" in output
    from ingestion.land.lake import Lake

    assert Lake.from_conn_id("lake_wasb", "landing").names("_probe/") == []  # written and deleted


def test_the_mariadb_sample_passes_every_check(tmp_path: Path) -> None:
    name = f"shop{uuid.uuid4().hex[:8]}"
    columns = [
        {"name": "product_id", "type": "integer", "nullable": False},
        {"name": "sku", "type": "string", "nullable": False},
        {"name": "name", "type": "string", "nullable": False},
        {"name": "price", "type": "decimal(10,2)", "nullable": False},
        {"name": "in_stock", "type": "boolean", "nullable": False},
        {"name": "description", "type": "string"},
        {"name": "updated_at", "type": "timestamp", "nullable": False},
    ]
    entity = {
        "name": "products",
        "locator": {"kind": "sql", "table": "products"},
        "primary_key": ["product_id"],
        "columns": columns,
        "load": {"mode": "incremental", "cursor_column": "updated_at"},
    }
    folder = write_configs(tmp_path / "configs", source_config(name, "sql", "shop_mysql", [entity]))
    code, lines, output = _test_connection(folder, name)
    assert code == 0, output
    assert f"ok  {name}: connected through shop_mysql (mysql)" in lines
    assert f"ok  {name}.products: the 7 declared column(s) match products" in lines
    assert f"ok  {name}.products: read 1 row(s) of the 7 declared column(s)" in lines
    assert read_committed(f"ingest.{name}.products") == []


@pytest.mark.parametrize(
    ("source", "conn_var", "expected"),
    [
        ("crm", "AIRFLOW_CONN_CRM_POSTGRES", "FAIL  crm: connect through crm_postgres: "),
        ("orders_api", "AIRFLOW_CONN_ORDERS_API", "FAIL  orders_api.orders: GET /v1/orders through orders_api: "),
        ("partner_files", "AIRFLOW_CONN_PARTNER_SFTP", "FAIL  partner_files: connect through partner_sftp: "),
    ],
)
def test_a_wrong_password_fails_without_printing_it(tmp_path: Path, source: str, conn_var: str, expected: str) -> None:
    folder = tmp_path / "configs"
    _sample_configs(folder)
    code, lines, output = _test_connection(
        folder, source, **{conn_var: _connection_with_password(conn_var, WRONG_PASSWORD)}
    )
    assert code == 1, output
    assert any(line.startswith(expected) for line in lines), output
    assert WRONG_PASSWORD not in output
    assert output.rstrip().endswith(f"{source}: 1 check(s) failed")


@pytest.mark.parametrize("database", sorted(DATABASES))
def test_a_column_dropped_at_the_source_fails_naming_entity_and_field(tmp_path: Path, database: str) -> None:
    name = f"tc{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    spec = DATABASES[database]
    entity = {
        "name": "orders",
        "locator": {"kind": "sql", "schema": spec["schema"], "table": table},
        "primary_key": ["order_id"],
        "columns": ORDER_COLUMNS,
        "load": {"mode": "incremental", "cursor_column": "updated_at"},
    }
    folder = write_configs(tmp_path / "configs", source_config(name, "sql", spec["conn_id"], [entity]))
    with orders_table(database, table) as writer:
        with writer.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} VALUES (1, 'paid', 1, '2026-11-01 10:00:00')"))
        code, lines, output = _test_connection(folder, name)
        assert code == 0, output
        assert f"ok  {name}.orders: the 4 declared column(s) match" in output
        assert f"ok  {name}.orders: read 1 row(s) of the 4 declared column(s)" in output

        with writer.begin() as conn:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN seq"))
        code, lines, output = _test_connection(folder, name)
    assert code == 1, output
    assert any(line.startswith(f"FAIL  {name}.orders: column seq is declared but not in ") for line in lines), lines
    assert any(line.startswith(f"FAIL  {name}.orders: read one row of the declared columns: ") for line in lines)
    assert "paid" not in output  # no value read from the source is printed


def test_a_field_the_api_no_longer_sends_fails(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    _sample_configs(folder)
    config_file = folder / "orders_api.json"
    config = json.loads(config_file.read_text())
    config["entities"][0]["columns"].append({"name": "loyalty_tier", "type": "string", "nullable": False})
    config_file.write_text(json.dumps(config))
    code, lines, output = _test_connection(folder, "orders_api")
    assert code == 1, output
    assert (
        "FAIL  orders_api.orders: 100 of 100 record(s) in page 1 would be quarantined: required field 'loyalty_tier' "
        "is missing or null" in lines
    ), lines


def test_a_column_missing_from_a_file_header_fails(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    _sample_configs(folder)
    config_file = folder / "partner_files.json"
    config = json.loads(config_file.read_text())
    config["entities"][0]["columns"].append({"name": "loyalty_tier", "type": "string"})
    config_file.write_text(json.dumps(config))
    code, lines, output = _test_connection(folder, "partner_files")
    assert code == 1, output
    assert any(
        line.startswith("FAIL  partner_files.customers: column loyalty_tier is declared but not in the header of ")
        for line in lines
    ), lines


def test_a_query_entity_that_no_longer_selects_a_declared_column_fails(tmp_path: Path) -> None:
    name = f"tq{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    entity = {
        "name": "orders",
        "locator": {"kind": "sql", "query": f"SELECT order_id, status, updated_at FROM {table}"},
        "primary_key": ["order_id"],
        "columns": ORDER_COLUMNS,
        "load": {"mode": "full"},
    }
    folder = write_configs(tmp_path / "configs", source_config(name, "sql", "crm_postgres", [entity]))
    with orders_table("postgres", table):
        code, lines, output = _test_connection(folder, name)
    assert code == 1, output
    assert any(line.startswith(f"FAIL  {name}.orders: read one row of the declared columns: ") for line in lines)
    assert "seq" in next(line for line in lines if line.startswith("FAIL  "))
