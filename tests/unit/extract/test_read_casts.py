"""The casts the extract query applies per dialect, as compiled SQL (SQL Server has no server here)."""

from __future__ import annotations

import pytest

from ingestion.config.models import Column
from ingestion.extract.read_casts import compiled, read_casts
from ingestion.extract.source_schema import SourceColumn
from ingestion.extract.sql_query import select_rows, source_relation
from ingestion.extract.window import Window

COLUMNS = [
    Column(name="id", type="integer"),
    Column(name="ext_id", type="uuid"),
    Column(name="ext_text", type="string"),
    Column(name="amount", type="decimal"),
    Column(name="label", type="string"),
    Column(name="at_time", type="time"),
]
REFLECTED = {
    "id": SourceColumn("id", "integer", False, "INTEGER"),
    "ext_id": SourceColumn("ext_id", "uuid", True, "UNIQUEIDENTIFIER"),
    "ext_text": SourceColumn("ext_text", "uuid", True, "UNIQUEIDENTIFIER"),
    "amount": SourceColumn("amount", "decimal(38,10)", True, "DECIMAL(38, 10)"),
    "label": SourceColumn("label", "string", True, "NVARCHAR(50)", textual=True),
    "at_time": SourceColumn("at_time", "time", True, "TIME"),
}


def _sql(dialect: str, reflected: dict[str, SourceColumn] | None = REFLECTED, columns: list[Column] = COLUMNS) -> str:
    relation = source_relation(table_name="orders", schema="dbo", query=None)
    casts = read_casts(dialect, columns, reflected)
    statement = select_rows(relation, [c.name for c in columns], None, Window(mode="full"), casts)
    return " ".join(compiled(statement, dialect).split())


def test_sql_server_reads_uuids_decimals_and_non_text_strings_as_text() -> None:
    assert _sql("mssql") == (
        "SELECT dbo.orders.id, CAST(dbo.orders.ext_id AS CHAR(36)) AS ext_id, "
        "CAST(dbo.orders.ext_text AS NVARCHAR(max)) AS ext_text, CAST(dbo.orders.amount AS VARCHAR(50)) AS amount, "
        "dbo.orders.label, dbo.orders.at_time FROM dbo.orders"
    )


def test_sql_server_query_locator_strings_are_left_to_the_reader() -> None:
    # Unknown source types: no NVARCHAR(max) for every string column; the reader takes the driver's value as text.
    assert "CAST" not in _sql("mssql", None, [Column(name="label", type="string")])


def test_mariadb_casts_time_year_and_decimals_to_char() -> None:
    columns = [Column(name="t", type="string"), Column(name="d", type="decimal"), Column(name="s", type="string")]
    reflected = {
        "t": SourceColumn("t", "time", True, "TIME"),
        "d": SourceColumn("d", "decimal", True, "DECIMAL(65, 30)"),
        "s": SourceColumn("s", "string", True, "SET('a', 'b')", textual=True),
    }
    assert _sql("mariadb", reflected, columns) == (
        "SELECT CAST(dbo.orders.t AS CHAR) AS t, CAST(dbo.orders.d AS CHAR) AS d, dbo.orders.s FROM dbo.orders"
    )


@pytest.mark.parametrize(
    ("declared", "native", "expected"),
    [
        ("interval", "INTERVAL", "CAST(CAST(dbo.orders.c AS INTERVAL) AS TEXT) AS c"),
        ("json", "INTEGER[]", "CAST(array_to_json(dbo.orders.c) AS TEXT) AS c"),
        ("json", "JSONB", "CAST(dbo.orders.c AS TEXT) AS c"),
        ("string", "INET", "CAST(dbo.orders.c AS TEXT) AS c"),
        ("uuid", "UUID", "CAST(dbo.orders.c AS TEXT) AS c"),
        ("decimal(19,2)", "MONEY", "CAST(dbo.orders.c AS NUMERIC) AS c"),
        ("time", "TIME WITHOUT TIME ZONE", "dbo.orders.c"),
    ],
)
def test_postgres_casts(declared: str, native: str, expected: str) -> None:
    reflected = {"c": SourceColumn("c", None, True, native)}
    assert _sql("postgresql", reflected, [Column(name="c", type=declared)]) == f"SELECT {expected} FROM dbo.orders"
