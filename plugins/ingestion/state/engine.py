"""Which control database to use: an explicit URL, `INGEST_CONTROL_DB_URL`, the Airflow connection, or SQLite.

Resolved at execute time (never at parse time). The Airflow connection (`control_db` by default) goes through its
provider hook, so the driver (psycopg 3 for Postgres) and the secrets backend are Airflow's.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine

CONTROL_DB_URL_ENV = "INGEST_CONTROL_DB_URL"
CONTROL_CONN_ID_ENV = "INGEST_CONTROL_CONN_ID"
DEFAULT_CONTROL_CONN_ID = "control_db"


def _airflow_connection_url(conn_id: str) -> str | None:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # the CLI can run without Airflow installed
        return None
    try:
        hook = BaseHook.get_connection(conn_id).get_hook()
    except Exception:  # noqa: BLE001 - a missing connection means "not configured": fall through to SQLite
        return None
    url = getattr(hook, "sqlalchemy_url", None)
    return url.render_as_string(hide_password=False) if url is not None else None


def default_sqlite_path() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return home / "ingest_control.db"


def control_db_url(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if value := os.environ.get(CONTROL_DB_URL_ENV):
        return value
    conn_id = os.environ.get(CONTROL_CONN_ID_ENV, DEFAULT_CONTROL_CONN_ID)
    if url := _airflow_connection_url(conn_id):
        return url
    path = default_sqlite_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def control_engine(explicit_url: str | None = None) -> Engine:
    url = control_db_url(explicit_url)
    # pool_pre_ping: a task may hold the engine across a database restart.
    return create_engine(url, pool_pre_ping=True, future=True)
