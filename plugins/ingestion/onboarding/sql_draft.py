"""Draft SQL entities from the database itself, through the source's Airflow connection (extract/sql_engine.py, as the
DAG connects): columns with their logical types (extract/source_schema.logical_type, the one mapping), nullability,
the primary key, a cursor column, and the table's size and growth from the database's own statistics.

Sampled rows are only looked at for PII suggestions; no value is kept or said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ingestion.onboarding.draft import DraftColumn, DraftEntity, entity_name, guess_cursor, suggest_all_pii
from ingestion.onboarding.errors import ScaffoldError

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class TableSize:
    rows: int | None
    rows_per_day: float | None
    since: str  # what the growth is counted over, in words

    def describe(self) -> str:
        rows = f"about {self.rows} rows" if self.rows is not None else "row count unknown"
        growth = f"about {self.rows_per_day:.0f} new rows a day {self.since}" if self.rows_per_day is not None else ""
        return ", ".join(p for p in (rows, growth) if p)


def table_names(tables: Sequence[str]) -> list[tuple[str | None, str]]:
    """`schema.table` or `table` as given (`Sales Ops.Line Items` is schema `Sales Ops`, table `Line Items`)."""
    named: list[tuple[str | None, str]] = []
    for text in tables:
        schema, dot, table = text.partition(".")
        named.append((schema, table) if dot else (None, text))
    return named


def draft_sql(
    conn_id: str, tables: Sequence[str], schema: str | None, sample_rows: int
) -> tuple[list[DraftEntity], str]:
    """The entities for the named tables (or every table of `schema`), and the database's dialect name."""
    from sqlalchemy import inspect

    from ingestion.extract.database_errors import database_errors_said_safely
    from ingestion.extract.sql_engine import source_engine

    engine = source_engine(conn_id)
    try:
        with database_errors_said_safely(conn_id):
            inspector = inspect(engine)
            named = table_names(tables)
            if schema is not None:
                named += [(schema, t) for t in inspector.get_table_names(schema=schema)]
            if not named:
                raise ScaffoldError(f"{conn_id}: no table to draft (give --table, or --schema with tables in it)")
            return [_draft_table(engine, inspector, s, t, sample_rows) for s, t in named], engine.dialect.name
    finally:
        engine.dispose()


def _draft_table(engine: Engine, inspector: Any, schema: str | None, table: str, sample_rows: int) -> DraftEntity:
    from sqlalchemy.exc import NoSuchTableError

    from ingestion.config.column_types import TEXT_CARRIED
    from ingestion.extract.source_schema import logical_type

    where = f"{schema}.{table}" if schema else table
    try:
        reflected = inspector.get_columns(table, schema=schema)
    except NoSuchTableError:
        raise ScaffoldError(f"table {where} not found (or not visible to the connection's user)") from None
    columns: list[DraftColumn] = []
    untyped: list[str] = []
    for found in reflected:
        logical = logical_type(found["type"])
        note = ""
        if logical is None:
            untyped.append(found["name"])
            logical, note = "string", f"source type {found['type']} has no logical type: read as its text"
        elif logical in TEXT_CARRIED:
            note = f"source type {found['type']} is carried as text ({logical}: exact, in one canonical form)"
        columns.append(DraftColumn(found["name"], logical, bool(found.get("nullable", True)), note))
    primary_key = list(inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or [])
    suggest_all_pii(columns, _sample(engine, schema, table, [c.name for c in columns], sample_rows))
    cursor, why = guess_cursor(columns, primary_key)
    size = table_size(engine, schema, table)
    entity = DraftEntity(
        name=entity_name(table),
        locator={"kind": "sql", "schema": schema, "table": table} if schema else {"kind": "sql", "table": table},
        columns=columns,
        primary_key=primary_key,
        load={"mode": "incremental", "cursor_column": cursor} if cursor else {"mode": "full"},
        description=f"TODO: what one row is. At scaffold ({datetime.now(UTC):%Y-%m-%d}): {size.describe()}",
        notes=[why, f"size: {size.describe()}"],
    )
    if not primary_key:
        entity.notes.append("no primary key in the database: name the columns that identify a row")
    if untyped:
        # Drift cannot compare a column it has no logical type for: under `fail` every run would stop there.
        entity.schema_drift = "warn"
        entity.notes.append(f"schema_drift warn: no logical type for {', '.join(untyped)} (drift cannot compare it)")
    return entity


def _sample(engine: Engine, schema: str | None, table: str, names: list[str], rows: int) -> dict[str, list[object]]:
    """Up to `rows` rows' values by column, for the PII suggestions only."""
    from ingestion.extract.sql_query import select_rows, source_relation
    from ingestion.extract.window import Window

    relation = source_relation(table_name=table, schema=schema, query=None)
    with engine.connect() as conn:
        result = conn.execute(select_rows(relation, names, None, Window("full")).limit(rows)).fetchall()
    return {name: [row[i] for row in result] for i, name in enumerate(names)}


def table_size(engine: Engine, schema: str | None, table: str) -> TableSize:
    """Rows and new rows a day from the database's statistics (no count over the table): Postgres' planner estimate
    and insert counter since its statistics were reset; MySQL/MariaDB's TABLE_ROWS over the days since CREATE_TIME."""
    from sqlalchemy import text

    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect == "postgresql":
            row = conn.execute(
                text(
                    "SELECT greatest(c.reltuples, s.n_live_tup)::bigint, s.n_tup_ins, "
                    "coalesce(d.stats_reset, pg_postmaster_start_time()) "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
                    "JOIN pg_stat_database d ON d.datname = current_database() "
                    "WHERE n.nspname = coalesce(:schema, current_schema()) AND c.relname = :table"
                ),
                {"schema": schema, "table": table},
            ).first()
            if row is None:
                return TableSize(None, None, "")
            since = row[2]
            return TableSize(
                int(row[0]) if row[0] is not None and row[0] >= 0 else None,
                _per_day(row[1], since),
                f"(inserts since the statistics were reset, {since:%Y-%m-%d})" if since else "",
            )
        if dialect in ("mysql", "mariadb"):
            row = conn.execute(
                text(
                    "SELECT TABLE_ROWS, CREATE_TIME FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table"
                ),
                {"schema": schema, "table": table},
            ).first()
            if row is None:
                return TableSize(None, None, "")
            created = row[1].replace(tzinfo=UTC) if row[1] is not None else None
            return TableSize(
                int(row[0]) if row[0] is not None else None,
                _per_day(row[0], created),
                f"(rows over the days since the table was created, {created:%Y-%m-%d})" if created else "",
            )
    return TableSize(None, None, "")


def _per_day(count: Any, since: datetime | None) -> float | None:
    if count is None or since is None:
        return None
    days = max((datetime.now(UTC) - since).total_seconds() / 86400, 1.0)
    return float(count) / days
