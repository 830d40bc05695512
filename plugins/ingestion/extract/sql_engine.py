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


class ZeroDate(str):
    """A MySQL/MariaDB date or datetime with a zero part (`0000-00-00`, `2024-00-15`), as its text. No date value
    holds it, and mysqlclient would hand over None for it: a NULL the source does not have, landed silently. As this
    text it fails a `date` or `timestamp` column naming the column; a `string` column lands it as it is."""


def _zero_date_conversions() -> dict[Any, Any]:
    """mysqlclient's conversions, with zero dates kept as ZeroDate instead of None."""
    from MySQLdb import converters
    from MySQLdb.constants import FIELD_TYPE

    def keeping_zero(convert: Any) -> Any:
        def converted(text: Any) -> Any:
            value = convert(text)
            return ZeroDate(text) if value is None and text is not None else value

        return converted

    conversions = dict(converters.conversions)
    for field_type in (FIELD_TYPE.DATE, FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP):
        conversions[field_type] = keeping_zero(conversions[field_type])
    return conversions


def source_engine(conn_id: str, **engine_kwargs: Any) -> Engine:
    url = source_url(conn_id)
    if url.get_backend_name() == "mysql" and url.get_driver_name() == "mysqldb":
        connect_args = {"conv": _zero_date_conversions(), **engine_kwargs.pop("connect_args", {})}
        engine_kwargs["connect_args"] = connect_args
    return create_engine(url, pool_pre_ping=True, **engine_kwargs)
