"""A SQLAlchemy engine for a source's Airflow connection, built through the provider's own hook.

The hook knows its dialect and driver (psycopg 3 for Postgres, mysqlclient for MySQL/MariaDB, the MSSQL
provider's URL for SQL Server); credentials come from Airflow's connection or secrets backend, never the config.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from ingestion.redact import remember


def source_url(conn_id: str) -> URL:
    from airflow.sdk import BaseHook

    hook: Any = BaseHook.get_connection(conn_id).get_hook()
    try:
        url = make_url(hook.sqlalchemy_url)
    except NotImplementedError:  # e.g. the MySQL provider: its get_uri() is a SQLAlchemy URL
        url = make_url(hook.get_uri())
    if url.get_backend_name() == "mysql" and "charset" not in url.query:
        # Without it mysqlclient talks latin1 and unicode outside the BMP (emoji) is mangled.
        url = url.update_query_dict({"charset": "utf8mb4"})
    # The password also travels percent-encoded inside URIs (ADBC's connection string): mask every spelling.
    remember(url.password if isinstance(url.password, str) else None)
    return url


def source_engine(conn_id: str, **engine_kwargs: Any) -> Engine:
    return create_engine(source_url(conn_id), pool_pre_ping=True, **engine_kwargs)
