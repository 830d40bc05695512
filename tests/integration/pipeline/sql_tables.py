"""Source tables of a test's own on the stack's Postgres (CRM database) and MariaDB (shop database), with the same
shape on both, for tests that must hold on each SQL dialect the platform reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from tests.integration.support import crm_table

# conn id, schema, and the SQL types of a zone-aware and a zone-less timestamp column.
DATABASES: dict[str, dict[str, Any]] = {
    "postgres": {"conn_id": "crm_postgres", "schema": "public", "aware": "timestamptz", "zone_less": "timestamp"},
    "mariadb": {"conn_id": "shop_mysql", "schema": None, "aware": "DATETIME(6)", "zone_less": "DATETIME(6)"},
}
ORDER_COLUMNS: list[dict[str, Any]] = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "status", "type": "string", "nullable": False},
    {"name": "seq", "type": "bigint", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]


@contextmanager
def orders_table(database: str, table: str, *, zone_less: bool = False) -> Iterator[Engine]:
    """An orders table (order_id, status, seq, updated_at) the source connection can read; dropped afterwards.
    Yields an engine that may write to it. `zone_less`: updated_at holds wall-clock times without a zone."""
    spec = DATABASES[database]
    cursor_type = spec["zone_less" if zone_less else "aware"]
    columns = "order_id bigint PRIMARY KEY, status varchar(20) NOT NULL, seq bigint NOT NULL, "
    columns += f"updated_at {cursor_type} NOT NULL"
    if database == "postgres":
        with crm_table(table, columns) as writer:
            yield writer
        return
    from ingestion.extract.sql_engine import source_engine

    writer = source_engine(spec["conn_id"])  # the shop user owns its database
    try:
        with writer.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} ({columns})"))
        yield writer
        with writer.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
    finally:
        writer.dispose()


def insert_orders(writer: Engine, table: str, rows: Sequence[tuple[int, int, datetime]]) -> None:
    """Rows of (order_id, seq, updated_at). An aware updated_at is written as its UTC instant; a naive one as the
    wall-clock time it is."""
    values = [{"id": order_id, "seq": seq, "ts": _stored(writer, ts)} for order_id, seq, ts in rows]
    with writer.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {table} (order_id, status, seq, updated_at) VALUES (:id, 'paid', :seq, :ts)"), values
        )


def _stored(writer: Engine, ts: datetime) -> datetime:
    # MariaDB's DATETIME takes no offset: an instant goes in as naive UTC.
    if writer.dialect.name in ("mysql", "mariadb") and ts.tzinfo is not None:
        return ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def sql_entity(database: str, table: str, load: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "name": "orders",
        "locator": {"kind": "sql", "schema": DATABASES[database]["schema"], "table": table},
        "primary_key": ["order_id"],
        "columns": [dict(c) for c in ORDER_COLUMNS],
        "load": load,
        **fields,
    }
