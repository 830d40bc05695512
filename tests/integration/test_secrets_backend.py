"""Connections only from a secrets backend: a sample DAG (a copy of include/source_configs/crm.json under a name of
this module's) runs through `airflow dags test` with no `AIRFLOW_CONN_*` variable, no `INGEST_CONTROL_DB_URL` and no
connection in the metadata DB, every connection served by Airflow's LocalFilesystemBackend from a file the test
writes, as production's AzureKeyVaultBackend serves them from Key Vault (docs/deployment.md). The same run without
the backend, the next day, fails on a connection it cannot find, so the successful one got its connections from the
backend."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from ingestion.state.engine import CONTROL_DB_URL_ENV, control_engine
from ingestion.state.store import ControlStore
from tests.integration.support import REPO, dags_test, sqlite_airflow_env, write_configs

BACKEND = "airflow.secrets.local_filesystem.LocalFilesystemBackend"
CONN_PREFIX = "AIRFLOW_CONN_"
# The connections a crm copy needs: source, control DB, lake, Kafka and both PII keys.
NEEDED = {"crm_postgres", "control_db", "lake_wasb", "kafka_default", "pii_hash_key", "pii_encryption_key"}
# Orders of the seeded CRM in the run's window (2026-11-02 02:00 to 11-03 02:00), as the demo reports them.
ORDERS_IN_WINDOW = 85


def _crm_copy(name: str) -> dict[str, Any]:
    config = json.loads((REPO / "include" / "source_configs" / "crm.json").read_text())
    config.pop("$schema")
    return {**config, "name": name, "retries": {"count": 0}}


def _stack_connections() -> dict[str, Any]:
    """The stack's connections (the `AIRFLOW_CONN_*` variables of .stack/env, which conftest exports) by id, in the
    JSON form LocalFilesystemBackend reads."""
    return {
        key[len(CONN_PREFIX) :].lower(): json.loads(value)
        for key, value in os.environ.items()
        if key.startswith(CONN_PREFIX)
    }


def _without_connections(env: dict[str, str]) -> dict[str, str]:
    """`env` with no connection of its own: no `AIRFLOW_CONN_*` variable and no control DB URL."""
    return {k: v for k, v in env.items() if not k.startswith(CONN_PREFIX) and k != CONTROL_DB_URL_ENV}


def _metadata_connection_ids(env: dict[str, str]) -> list[str]:
    db = sqlite3.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    try:
        return [conn_id for (conn_id,) in db.execute("SELECT conn_id FROM connection")]
    finally:
        db.close()


def test_a_sample_dag_runs_with_connections_only_from_a_secrets_backend(tmp_path: Path) -> None:
    connections = _stack_connections()
    assert connections.keys() >= NEEDED, sorted(connections)
    connections_file = tmp_path / "secrets" / "connections.json"
    connections_file.parent.mkdir()
    connections_file.write_text(json.dumps(connections))

    name = f"sb{uuid.uuid4().hex[:8]}"
    configs = write_configs(tmp_path / "configs", _crm_copy(name))
    bare = _without_connections(sqlite_airflow_env(tmp_path / "airflow", configs))
    assert not [k for k in bare if k.startswith(CONN_PREFIX)]
    assert _metadata_connection_ids(bare) == []  # a fresh metadata DB: no connection there either

    with_backend = {
        **bare,
        "AIRFLOW__SECRETS__BACKEND": BACKEND,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections_file)}),
    }
    dags_test(with_backend, f"ingest_{name}", "2026-11-03T02:00:00+00:00")
    assert _metadata_connection_ids(bare) == []  # nothing was copied into the metadata DB on the way

    store = ControlStore(control_engine())
    try:
        (orders,) = store.runs(name, "orders")
        (customers,) = store.runs(name, "customers")
    finally:
        store.engine.dispose()
    assert orders.rows_extracted == orders.rows_landed == orders.rows_published == ORDERS_IN_WINDOW
    assert customers.rows_landed > 0
    assert customers.rows_published == customers.rows_landed
    assert orders.files
    assert customers.files

    # Control: the next day's run without the backend (after the committed run, so the run guard does not hold it)
    # has nowhere to find a connection, fails, and names the one it missed.
    output = dags_test(bare, f"ingest_{name}", "2026-11-04T02:00:00+00:00", succeed=False)
    assert "The conn_id `crm_postgres` isn't defined" in output, output[-4000:]
