"""`scripts/ingest scaffold` on the local stack: drafts for Postgres, MariaDB, the sample API and the SFTP drop validate
as written (`scripts/ingest validate`), with logical types, keys, cursors, paging and PII suggestions (never a sampled
value); and a scaffolded Postgres config runs through its DAG with only its PII choices changed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.integration.support import CRM_WRITER_URL, REPO, crm_table, dags_test, sqlite_airflow_env, write_configs

EMAILS = [f"person{i}@example.org" for i in range(20)]
PHONES = [f"+49 30 {1000000 + i}" for i in range(20)]
IBAN = "DE89370400440532013000"  # a valid test IBAN (mod-97 checks)
CARD = "4111111111111111"  # a Luhn-valid test card number
IPS = [f"10.1.2.{i}" for i in range(20)]


def _ingest(*args: str, config_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    folder = ["--config-dir", str(config_dir)] if config_dir else []
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), *folder, *args],
        env={**os.environ, "INGEST_ENV": "dev"},
        capture_output=True,
        text=True,
        timeout=240,
    )


def _scaffold(folder: Path, name: str, *args: str) -> tuple[dict[str, Any], str]:
    """The draft written to `folder/<name>.json` (with the repository's defaults beside it), checked by `validate`
    as it is; returns the draft and everything the commands printed."""
    write_configs(folder)
    target = folder / f"{name}.json"
    drafted = _ingest("scaffold", "--name", name, "--out", str(target), *args)
    assert drafted.returncode == 0, drafted.stdout + drafted.stderr
    validated = _ingest("validate", config_dir=folder)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert f"valid in env dev: {name}" in validated.stdout
    return json.loads(target.read_text()), drafted.stdout + drafted.stderr + target.read_text()


def _columns(config: dict[str, Any], entity: int = 0) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in config["entities"][entity]["columns"]}


@pytest.fixture
def awkward_table() -> Iterator[str]:
    """A table in a schema and under a name with spaces, with PII-shaped values and types carried as text."""
    schema = f"Sales Ops {uuid.uuid4().hex[:6]}"
    writer = create_engine(CRM_WRITER_URL)
    try:
        with writer.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO crm_reader'))
            conn.execute(
                text(
                    f'CREATE TABLE "{schema}"."Line Items" (line_id bigint PRIMARY KEY, contact text, '
                    "phone_number text, iban text, card text, client_ip text, ref uuid NOT NULL, "
                    "amount numeric NOT NULL, fee money, "
                    "last_modified timestamptz NOT NULL)"
                )
            )
            conn.execute(text(f'GRANT SELECT ON "{schema}"."Line Items" TO crm_reader'))
            conn.execute(
                text(
                    f'INSERT INTO "{schema}"."Line Items" SELECT g, (CAST(:emails AS text[]))[g], '
                    "(CAST(:phones AS text[]))[g], :iban, :card, (CAST(:ips AS text[]))[g], gen_random_uuid(), "
                    "g * 1.5, g, now() - g * interval '1 hour' FROM generate_series(1, 20) g"
                ),
                {"emails": EMAILS, "phones": PHONES, "iban": IBAN, "card": CARD, "ips": IPS},
            )
        yield schema
        with writer.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        writer.dispose()


def test_postgres_draft_types_keys_cursor_and_pii_suggestions(tmp_path: Path, awkward_table: str) -> None:
    config, output = _scaffold(
        tmp_path, "sales_ops", "--conn", "crm_postgres", "--table", f"{awkward_table}.Line Items"
    )
    entity = config["entities"][0]
    assert entity["name"] == "line_items"
    assert entity["locator"] == {"kind": "sql", "schema": awkward_table, "table": "Line Items"}
    assert entity["primary_key"] == ["line_id"]
    assert entity["load"] == {"mode": "incremental", "cursor_column": "last_modified"}
    assert {"kind": "unique", "columns": ["line_id"]} in entity["checks"]
    columns = _columns(config)
    assert columns["line_id"]["type"] == "bigint"
    assert columns["line_id"]["nullable"] is False
    assert "carried as text" in columns["ref"]["description"]  # uuid
    assert "carried as text" in columns["amount"]["description"]  # numeric without precision
    assert columns["fee"]["type"] == "string"  # money: no logical type
    assert entity["schema_drift"] == "warn"
    suggested = {name: (c.get("pii"), c.get("pii_strategy")) for name, c in columns.items() if c.get("pii")}
    assert suggested == {
        "contact": (True, "hash"),  # by its values only: the name says nothing
        "phone_number": (True, "redact"),
        "iban": (True, "encrypt"),
        "card": (True, "drop"),
        "client_ip": (True, "hash"),
    }
    assert columns["contact"]["description"] == "PII suggested (e-mail, hash): 20 of 20 sampled value(s) look like one"
    assert "PII contact: suggested e-mail, strategy hash" in output
    assert "size: " in output
    for value in [*EMAILS, *PHONES, IBAN, CARD, *IPS]:
        assert value not in output  # neither printed nor written


def test_mariadb_draft(tmp_path: Path) -> None:
    config, output = _scaffold(tmp_path, "shop", "--conn", "shop_mysql", "--table", "products")
    entity = config["entities"][0]
    assert entity["locator"] == {"kind": "sql", "table": "products"}
    assert entity["primary_key"] == ["product_id"]
    assert entity["load"] == {"mode": "incremental", "cursor_column": "updated_at"}
    types = {name: (c["type"], c["nullable"]) for name, c in _columns(config).items()}
    assert types == {
        "product_id": ("integer", False),
        "sku": ("string", False),
        "name": ("string", False),
        "price": ("decimal(10,2)", False),
        "in_stock": ("boolean", False),
        "description": ("string", True),
        "updated_at": ("timestamp_ntz", False),
    }
    assert "Desk lamp" not in output


def test_rest_draft_flattens_guesses_paging_and_keys(tmp_path: Path) -> None:
    config, output = _scaffold(tmp_path, "orders_draft", "--conn", "orders_api", "--path", "/v1/orders")
    entity = config["entities"][0]
    assert entity["locator"]["pagination"] == {"style": "link_header"}
    assert entity["primary_key"] == ["id"]
    columns = _columns(config)
    assert list(columns) == [
        "id",
        "customer_id",
        "status",
        "amount",
        "currency",
        "shipping_city",
        "shipping_country",
        "items",
        "updated_at",
    ]
    assert columns["amount"]["type"] == "decimal(12,2)"
    assert columns["items"]["type"] == "json"
    assert columns["updated_at"]["type"] == "timestamp"
    assert 'paging: the answer has a Link: rel="next" header' in output


def test_sftp_draft_from_the_newest_matching_file(tmp_path: Path) -> None:
    config, output = _scaffold(
        tmp_path,
        "partner_draft",
        "--conn",
        "partner_sftp",
        "--path",
        "inbound/partners",
        "--pattern",
        "customers_*.csv",
    )
    entity = config["entities"][0]
    assert entity["locator"]["file_format"] == "csv"
    assert entity["primary_key"] == ["partner_customer_id"]
    columns = _columns(config)
    assert columns["signup_date"]["type"] == "date"
    assert (columns["email"]["pii"], columns["email"]["pii_strategy"]) == (True, "hash")
    assert columns["email"]["description"].startswith("PII suggested (e-mail, hash): the name, and ")
    addresses = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", output))
    assert addresses == {"owner@example.com"}  # the placeholder owner; no sampled e-mail address


def test_a_scaffolded_postgres_config_runs_through_its_dag(tmp_path: Path) -> None:
    """Drafted, then only the PII choices changed, then `airflow dags test`: the run lands and publishes every row,
    with the e-mail hashed."""
    name = f"sc{uuid.uuid4().hex[:8]}"
    table = f"{name}_customers"
    folder = tmp_path / "configs"
    airflow = sqlite_airflow_env(tmp_path / "airflow", write_configs(folder))
    columns_sql = (
        "customer_id integer PRIMARY KEY, email text NOT NULL, full_name text, updated_at timestamptz NOT NULL"
    )
    with crm_table(table, columns_sql) as writer:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {table} SELECT g, 'c' || g || '@example.org', 'Name ' || g, "
                    ":base - g * interval '1 minute' FROM generate_series(1, 50) g"
                ),
                {"base": datetime.now(UTC) - timedelta(hours=1)},
            )
        config, _ = _scaffold(folder, name, "--conn", "crm_postgres", "--table", f"public.{table}")
        columns = _columns(config)
        assert columns["email"]["pii_strategy"] == "hash"
        assert columns["full_name"]["pii_strategy"] == "redact"
        # The PII choices: keep the e-mail hashed, drop the name.
        columns["full_name"]["pii_strategy"] = "drop"
        (folder / f"{name}.json").write_text(json.dumps(config))

        dags_test(airflow, f"ingest_{name}", datetime.now(UTC).strftime("%Y-%m-%d"))

    from ingestion.state.engine import control_engine
    from ingestion.state.store import ControlStore
    from tests.integration.support import landed_table, read_committed

    store = ControlStore(control_engine())
    try:
        run = store.runs(name, table, limit=1)[0]
    finally:
        store.engine.dispose()
    assert (run.rows_landed, run.rows_published) == (50, 50)
    landed = landed_table({"container": "landing", "files": run.files})
    assert "full_name" not in landed.schema.names
    emails = landed.column("email").to_pylist()
    assert len(emails) == 50
    assert not any(e.endswith("@example.org") for e in emails)  # hashed
    assert len(read_committed(f"ingest.{name}.{table}")) == 50


def test_a_table_that_is_not_there_exits_1_naming_it(tmp_path: Path) -> None:
    result = _ingest("scaffold", "--conn", "crm_postgres", "--table", "public.no_such_table_here")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "table public.no_such_table_here not found" in result.stderr
