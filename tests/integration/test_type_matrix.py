"""Every column type a real PostgreSQL or MariaDB table has, through a real run on the local stack: one table per
engine with one column per type, each holding edge values (extremes, unicode, DST-crossing instants, negative and
longer-than-a-day times and intervals, unsigned values above 2^63, 38-digit and unbounded decimals, zero dates) and a
row of NULLs. The run extracts and lands (Parquet in Azurite), validates and publishes (Kafka, read back
read_committed); each value must read back equal to the source's, in the lake and in the message. The schema drift
policy is `fail`: every declaration here is one the source's type lands as without loss.

A value a declared type cannot carry fails the run naming the column, never the value.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from sqlalchemy import Engine, text

from tests.integration.support import crm_table, landed_table, read_committed, run_stages, source_config, write_configs

END = datetime(2026, 11, 22, tzinfo=UTC)
RUN_ID = "scheduled__2026-11-22"


@dataclass(frozen=True)
class TypeCase:
    """One column: its SQL type, the declared logical type, four SQL literals (then a NULL row), and what each must
    read back as in Parquet and in the Kafka message's JSON."""

    name: str
    sql: str
    declared: str
    literals: Sequence[str]
    landed: Sequence[Any]
    published: Sequence[Any]


UUIDS = ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"]
UUIDS += ["ffffffff-ffff-ffff-ffff-ffffffffffff", "123e4567-e89b-12d3-a456-426614174000"]
BIG = "9999999999999999999999999999.9999999999"  # 38 digits
LONG_DECIMAL = "-123456789012345678901234567890123456789012345678901234567890.12345678901234567890"
UNICODE = ["Desk lamp 💡", "", 'a "quoted" \\ back\nslash\ttab', "陈伟 Björn"]


def _q(value: str) -> str:
    return "'" + value.replace("'", "''").replace("\\", "\\\\") + "'"


def _pg_q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


MARIADB_CASES = [
    # TIME declared string: the server's own text. Before the fix this landed as a count of microseconds.
    TypeCase(
        "time_text",
        "TIME",
        "string",
        ["'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:01'"],
        ["-838:59:59", "838:59:59", "00:00:00", "-00:00:01"],
        ["-838:59:59", "838:59:59", "00:00:00", "-00:00:01"],
    ),
    TypeCase(
        "time6_text",
        "TIME(6)",
        "string",
        ["'-00:00:00.5'", "'25:00:00.000001'", "'12:34:56'", "'838:59:59.999999'"],
        ["-00:00:00.500000", "25:00:00.000001", "12:34:56.000000", "838:59:59.999999"],
        ["-00:00:00.500000", "25:00:00.000001", "12:34:56.000000", "838:59:59.999999"],
    ),
    TypeCase(
        "time_interval",
        "TIME(6)",
        "interval",
        ["'-838:59:59'", "'100:00:00.5'", "'00:00:00'", "'-00:00:00.000001'"],
        ["PT-838H-59M-59S", "PT100H0.5S", "PT0S", "PT-0.000001S"],
        ["PT-838H-59M-59S", "PT100H0.5S", "PT0S", "PT-0.000001S"],
    ),
    TypeCase(
        "time_of_day",
        "TIME(6)",
        "time",
        ["'00:00:00'", "'23:59:59.999999'", "'12:00:00.5'", "'04:05:06'"],
        [time(0), time(23, 59, 59, 999999), time(12, 0, 0, 500000), time(4, 5, 6)],
        ["00:00:00.000000", "23:59:59.999999", "12:00:00.500000", "04:05:06.000000"],
    ),
    TypeCase(
        "model_year", "YEAR", "integer", ["1901", "2155", "0", "2026"], [1901, 2155, 0, 2026], [1901, 2155, 0, 2026]
    ),
    TypeCase(
        "unsigned_id",
        "BIGINT UNSIGNED",
        "decimal(20,0)",
        ["18446744073709551615", "9223372036854775808", "0", "9223372036854775807"],
        [Decimal("18446744073709551615"), Decimal("9223372036854775808"), Decimal(0), Decimal("9223372036854775807")],
        ["18446744073709551615", "9223372036854775808", "0", "9223372036854775807"],
    ),
    TypeCase(
        "raw_bytes",
        "VARBINARY(16)",
        "binary",
        ["X'00FF'", "X''", "X'E282AC'", "X'00'"],
        [b"\x00\xff", b"", "€".encode(), b"\x00"],
        _b64([b"\x00\xff", b"", "€".encode(), b"\x00"]),
    ),
    TypeCase(
        "mood",
        "ENUM('ünï','x y','ok')",
        "string",
        ["'ünï'", "'x y'", "'ok'", "'ünï'"],
        ["ünï", "x y", "ok", "ünï"],
        ["ünï", "x y", "ok", "ünï"],
    ),
    TypeCase(
        "flags",
        "SET('a','b','c')",
        "string",
        ["'a,c'", "''", "'a,b,c'", "'b'"],
        ["a,c", "", "a,b,c", "b"],
        ["a,c", "", "a,b,c", "b"],
    ),
    TypeCase(
        "doc",
        "JSON",
        "json",
        ['\'{"a": [1, "é"]}\'', "'[]'", "'null'", "'{\"b\": 1.50}'"],
        ['{"a": [1, "é"]}', "[]", "null", '{"b": 1.50}'],
        ['{"a": [1, "é"]}', "[]", "null", '{"b": 1.50}'],
    ),
    TypeCase(
        "wide_decimal",
        "DECIMAL(65,30)",
        "decimal",
        [
            "-12345678901234567890123456789012345.123456789012345678901234567890",
            "0",
            "0.000000000000000000000000000001",
            "99999999999999999999999999999999999.999999999999999999999999999999",
        ],
        [
            "-12345678901234567890123456789012345.123456789012345678901234567890",
            "0.000000000000000000000000000000",
            "0.000000000000000000000000000001",
            "99999999999999999999999999999999999.999999999999999999999999999999",
        ],
        [
            "-12345678901234567890123456789012345.123456789012345678901234567890",
            "0.000000000000000000000000000000",
            "0.000000000000000000000000000001",
            "99999999999999999999999999999999999.999999999999999999999999999999",
        ],
    ),
    TypeCase(
        "decimal38",
        "DECIMAL(38,10)",
        "decimal(38,10)",
        [BIG, "-" + BIG, "0", "0.0000000001"],
        [Decimal(BIG), Decimal("-" + BIG), Decimal(0), Decimal("0.0000000001")],
        [BIG, "-" + BIG, "0.0000000000", "0.0000000001"],
    ),
    TypeCase("ext_id", "UUID", "uuid", [_q(u.upper()) for u in UUIDS], UUIDS, UUIDS),
    TypeCase(
        "at",
        "DATETIME(6)",
        "timestamp_ntz",
        ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2026-03-29 02:30:00'", "'1970-01-01 00:00:00'"],
        [
            datetime(1000, 1, 1),
            datetime(9999, 12, 31, 23, 59, 59, 999999),
            datetime(2026, 3, 29, 2, 30),
            datetime(1970, 1, 1),
        ],
        [
            "1000-01-01T00:00:00.000000",
            "9999-12-31T23:59:59.999999",
            "2026-03-29T02:30:00.000000",
            "1970-01-01T00:00:00.000000",
        ],
    ),
    TypeCase(
        "zero_date",
        "DATE",
        "string",
        ["'0000-00-00'", "'1000-01-01'", "'9999-12-31'", "'2024-02-29'"],
        ["0000-00-00", "1000-01-01", "9999-12-31", "2024-02-29"],
        ["0000-00-00", "1000-01-01", "9999-12-31", "2024-02-29"],
    ),
    TypeCase("label", "VARCHAR(50)", "string", [_q(v) for v in UNICODE], UNICODE, UNICODE),
    TypeCase(
        "big",
        "BIGINT",
        "bigint",
        ["-9223372036854775808", "9223372036854775807", "0", "-1"],
        [-(2**63), 2**63 - 1, 0, -1],
        [-(2**63), 2**63 - 1, 0, -1],
    ),
]

PG_INTERVALS = ["P1Y2M-3DT4H5M6.5S", "P-178000000Y", "PT-838H-59M-59S", "PT100H0.000001S"]
PG_INTERVAL_SQL = ["'1 year 2 mons -3 days 04:05:06.5'", "'-178000000 years'", "'-838:59:59'", "'100:00:00.000001'"]
POSTGRES_CASES = [
    TypeCase("ext_id", "uuid", "uuid", [_pg_q(u.upper()) for u in UUIDS], UUIDS, UUIDS),
    TypeCase("ext_id_text", "uuid", "string", [_pg_q(u) for u in UUIDS], UUIDS, UUIDS),
    TypeCase("span", "interval", "interval", PG_INTERVAL_SQL, PG_INTERVALS, PG_INTERVALS),
    TypeCase("span_text", "interval", "string", PG_INTERVAL_SQL, PG_INTERVALS, PG_INTERVALS),
    TypeCase(
        "amount",
        "numeric",
        "decimal",
        ["1.12345678901234567890", "'NaN'", LONG_DECIMAL, "0.00000000000000000001"],
        ["1.12345678901234567890", "NaN", LONG_DECIMAL, "0.00000000000000000001"],
        ["1.12345678901234567890", "NaN", LONG_DECIMAL, "0.00000000000000000001"],
    ),
    TypeCase(
        "amount38",
        "numeric(38,10)",
        "decimal(38,10)",
        [BIG, "-" + BIG, "0", "0.0000000001"],
        [Decimal(BIG), Decimal("-" + BIG), Decimal(0), Decimal("0.0000000001")],
        [BIG, "-" + BIG, "0.0000000000", "0.0000000001"],
    ),
    TypeCase(
        "clock",
        "time",
        "time",
        ["'00:00:00'", "'23:59:59.999999'", "'12:00:00.5'", "'04:05:06'"],
        [time(0), time(23, 59, 59, 999999), time(12, 0, 0, 500000), time(4, 5, 6)],
        ["00:00:00.000000", "23:59:59.999999", "12:00:00.500000", "04:05:06.000000"],
    ),
    TypeCase(
        "clock_text",
        "time",
        "string",
        ["'00:00:00'", "'23:59:59.999999'", "'12:00:00.5'", "'24:00:00'"],
        ["00:00:00", "23:59:59.999999", "12:00:00.5", "24:00:00"],
        ["00:00:00", "23:59:59.999999", "12:00:00.5", "24:00:00"],
    ),
    TypeCase(
        "clock_tz",
        "timetz",
        "string",
        ["'12:00:00+02'", "'00:00:00+00'", "'23:59:59.999999-05'", "'04:05:06.5+05:30'"],
        ["12:00:00+02", "00:00:00+00", "23:59:59.999999-05", "04:05:06.5+05:30"],
        ["12:00:00+02", "00:00:00+00", "23:59:59.999999-05", "04:05:06.5+05:30"],
    ),
    TypeCase(
        "doc",
        "jsonb",
        "json",
        ['\'{"a": [1, "é"]}\'', "'[]'", "'null'", '\'{"b": {"c": 1.50}}\''],
        ['{"a": [1, "é"]}', "[]", "null", '{"b": {"c": 1.50}}'],
        ['{"a": [1, "é"]}', "[]", "null", '{"b": {"c": 1.50}}'],
    ),
    TypeCase(
        "payload",
        "bytea",
        "binary",
        ["'\\x00ff'", "'\\x'", "'\\xe282ac'", "'\\x00'"],
        [b"\x00\xff", b"", "€".encode(), b"\x00"],
        _b64([b"\x00\xff", b"", "€".encode(), b"\x00"]),
    ),
    TypeCase(
        "counts",
        "int[]",
        "json",
        ["'{1,NULL,3}'", "'{}'", "'{-2147483648,2147483647}'", "'{{1,2},{3,4}}'"],
        ["[1,null,3]", "[]", "[-2147483648,2147483647]", "[[1,2],[3,4]]"],
        ["[1,null,3]", "[]", "[-2147483648,2147483647]", "[[1,2],[3,4]]"],
    ),
    TypeCase(
        "tags",
        "text[]",
        "json",
        ["'{\"a,b\",NULL}'", '\'{"ü\\"q"}\'', "'{}'", "'{\"\"}'"],
        ['["a,b",null]', '["ü\\"q"]', "[]", '[""]'],
        ['["a,b",null]', '["ü\\"q"]', "[]", '[""]'],
    ),
    TypeCase(
        "mood",
        "{enum}",
        "string",
        ["'ok'", "'sad'", "'ünï'", "'ok'"],
        ["ok", "sad", "ünï", "ok"],
        ["ok", "sad", "ünï", "ok"],
    ),
    TypeCase(
        "address",
        "inet",
        "string",
        ["'10.0.0.1/8'", "'::1'", "'192.168.0.1'", "'2001:db8::1/64'"],
        # PostgreSQL's cast to text always writes the netmask (inet's output leaves out a host's /32 or /128).
        ["10.0.0.1/8", "::1/128", "192.168.0.1/32", "2001:db8::1/64"],
        ["10.0.0.1/8", "::1/128", "192.168.0.1/32", "2001:db8::1/64"],
    ),
    TypeCase(
        "at",
        "timestamptz",
        "timestamp",
        [
            "'2026-03-29 01:59:59.999999+01'",
            "'2026-03-29 03:00:00+02'",
            "'2026-10-25 02:30:00+02'",
            "'2026-10-25 02:30:00+01'",
        ],
        [
            datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 3, 29, 1, tzinfo=UTC),
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        ],
        [
            "2026-03-29T00:59:59.999999Z",
            "2026-03-29T01:00:00.000000Z",
            "2026-10-25T00:30:00.000000Z",
            "2026-10-25T01:30:00.000000Z",
        ],
    ),
    TypeCase(
        "wall",
        "timestamp",
        "timestamp_ntz",
        ["'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'2026-03-29 02:30:00'", "'1970-01-01'"],
        [
            datetime(1, 1, 1),
            datetime(9999, 12, 31, 23, 59, 59, 999999),
            datetime(2026, 3, 29, 2, 30),
            datetime(1970, 1, 1),
        ],
        [
            "0001-01-01T00:00:00.000000",
            "9999-12-31T23:59:59.999999",
            "2026-03-29T02:30:00.000000",
            "1970-01-01T00:00:00.000000",
        ],
    ),
    TypeCase(
        "day",
        "date",
        "date",
        ["'0001-01-01'", "'9999-12-31'", "'2024-02-29'", "'1970-01-01'"],
        [date(1, 1, 1), date(9999, 12, 31), date(2024, 2, 29), date(1970, 1, 1)],
        ["0001-01-01", "9999-12-31", "2024-02-29", "1970-01-01"],
    ),
    TypeCase(
        "ratio",
        "double precision",
        "double",
        ["1.7976931348623157e308", "2.2250738585072014e-308", "-0.1", "0"],
        [1.7976931348623157e308, 2.2250738585072014e-308, -0.1, 0.0],
        [1.7976931348623157e308, 2.2250738585072014e-308, -0.1, 0.0],
    ),
    TypeCase("label", "text", "string", [_pg_q(v) for v in UNICODE], UNICODE, UNICODE),
    TypeCase(
        "big",
        "bigint",
        "bigint",
        ["-9223372036854775808", "9223372036854775807", "0", "-1"],
        [-(2**63), 2**63 - 1, 0, -1],
        [-(2**63), 2**63 - 1, 0, -1],
    ),
]
ENGINES = {"mariadb": ("shop_mysql", MARIADB_CASES), "postgres": ("crm_postgres", POSTGRES_CASES)}


@contextmanager
def source_table(engine: str, table: str, columns_sql: str) -> Iterator[Engine]:
    """A table of the test's own on the engine, readable by the source connection; dropped afterwards."""
    if engine == "postgres":
        mood = f"{table}_mood"
        with crm_table(table, columns_sql.replace("{enum}", mood)) as writer:
            yield writer
        return
    from ingestion.extract.sql_engine import source_engine

    writer = source_engine("shop_mysql")  # the shop user owns its database
    try:
        with writer.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} ({columns_sql}) CHARACTER SET utf8mb4"))
        yield writer
        with writer.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
    finally:
        writer.dispose()


@contextmanager
def type_table(engine: str, cases: Sequence[TypeCase], table: str) -> Iterator[None]:
    """The cases' columns in one table: rows 1-4 the literals, row 5 NULLs."""
    if engine == "postgres":
        from sqlalchemy import create_engine

        from tests.integration.support import CRM_WRITER_URL

        owner = create_engine(CRM_WRITER_URL)
        with owner.begin() as conn:
            conn.execute(text(f"CREATE TYPE {table}_mood AS ENUM ('ok', 'sad', 'ünï')"))
    columns = ", ".join(["id integer PRIMARY KEY", *[f"{c.name} {c.sql}" for c in cases]])
    try:
        with source_table(engine, table, columns) as writer:
            with writer.begin() as conn:
                if engine == "mariadb":
                    conn.exec_driver_sql("SET SESSION sql_mode = ''")  # zero dates are allowed in this session
                for row in range(4):
                    values = ", ".join([str(row + 1), *[c.literals[row] for c in cases]])
                    conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({values})")
                conn.exec_driver_sql(f"INSERT INTO {table} (id) VALUES (5)")
            yield
    finally:
        if engine == "postgres":
            with owner.begin() as conn:
                conn.execute(text(f"DROP TYPE IF EXISTS {table}_mood CASCADE"))
            owner.dispose()


def _config(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
    table: str,
    columns: list[dict[str, Any]],
    drift: str = "fail",
    load: dict[str, Any] | None = None,
) -> str:
    conn_id = ENGINES[engine][0]
    name = table
    entity = {
        "name": "types",
        "locator": {"kind": "sql", "schema": "public" if engine == "postgres" else None, "table": table},
        "primary_key": ["id"],
        "columns": [{"name": "id", "type": "integer", "nullable": False}, *columns],
        "load": load or {"mode": "full"},
        "schema_drift": drift,
    }
    config = source_config(name, "sql", conn_id, [entity], retries={"count": 0})
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
    return name


def _landed(name: str) -> list[dict[str, Any]]:
    results = run_stages(name, "types", RUN_ID, END)
    rows = landed_table(results["extract_land"]).to_pylist()
    return sorted(rows, key=lambda r: r["id"])


def _published(name: str) -> list[dict[str, Any]]:
    messages = [json.loads(v or b"") for _, v, _ in read_committed(f"ingest.{name}.types")]
    return sorted(messages, key=lambda m: m["id"])


@pytest.mark.parametrize("engine", [*sorted(ENGINES), "postgres-psycopg"])
def test_every_source_type_lands_and_publishes_as_it_is_at_the_source(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postgres-psycopg`: the same table read through psycopg's server-side cursor, the reader an entity with a text
    cursor takes, instead of ADBC."""
    if engine == "postgres-psycopg":
        import ingestion.extract.adbc_reader

        monkeypatch.setattr(ingestion.extract.adbc_reader, "usable_for", lambda dialect, window: False)
        engine = "postgres"
    cases = ENGINES[engine][1]
    table = f"tm{uuid.uuid4().hex[:8]}"
    with type_table(engine, cases, table):
        name = _config(tmp_path, monkeypatch, engine, table, [{"name": c.name, "type": c.declared} for c in cases])
        landed = _landed(name)
        published = _published(name)
    assert [r["id"] for r in landed] == [1, 2, 3, 4, 5]
    assert [m["id"] for m in published] == [1, 2, 3, 4, 5]
    for case in cases:
        assert [r[case.name] for r in landed] == [*case.landed, None], f"{case.name} ({case.sql}) in Parquet"
        assert [m[case.name] for m in published] == [*case.published, None], f"{case.name} ({case.sql}) in Kafka"


def test_a_mariadb_time_declared_string_lands_as_the_servers_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The silent corruption: a TIME declared `string` landed (and was published) as a count of microseconds, under
    drift `warn` (the declaration was reported as drift, too)."""
    case = MARIADB_CASES[0]
    table = f"tm{uuid.uuid4().hex[:8]}"
    with type_table("mariadb", [case], table):
        name = _config(tmp_path, monkeypatch, "mariadb", table, [{"name": case.name, "type": "string"}], "warn")
        landed = _landed(name)
        published = _published(name)
    assert [r[case.name] for r in landed] == ["-838:59:59", "838:59:59", "00:00:00", "-00:00:01", None]
    assert [m[case.name] for m in published] == ["-838:59:59", "838:59:59", "00:00:00", "-00:00:01", None]


@pytest.mark.parametrize(
    ("engine", "case", "declared", "drift"),
    [
        # A time of day holds neither a negative TIME nor PostgreSQL's 24:00:00.
        (
            "mariadb",
            TypeCase("clock", "TIME", "", ["'01:00:00'", "'-01:00:00'", "'02:00:00'", "'03:00:00'"], [], []),
            "time",
            "fail",
        ),
        (
            "postgres",
            TypeCase("clock", "time", "", ["'01:00:00'", "'24:00:00'", "'02:00:00'", "'03:00:00'"], [], []),
            "time",
            "fail",
        ),
        # BIGINT UNSIGNED above 2^63 declared bigint (drift `warn` lands the declared type): named, no OverflowError.
        (
            "mariadb",
            TypeCase("counter", "BIGINT UNSIGNED", "", ["1", "18446744073709551615", "2", "3"], [], []),
            "bigint",
            "warn",
        ),
        # A zero date is no date: mysqlclient turned it into NULL, landed silently (declared `string` it lands as is).
        (
            "mariadb",
            TypeCase("day", "DATE", "", ["'2024-01-02'", "'0000-00-00'", "'2024-01-03'", "'2024-01-04'"], [], []),
            "date",
            "fail",
        ),
        (
            "mariadb",
            TypeCase(
                "at", "DATETIME", "", ["'2024-01-02'", "'0000-00-00 00:00:00'", "'2024-01-03'", "'2024-01-04'"], [], []
            ),
            "timestamp_ntz",
            "fail",
        ),
    ],
    ids=["mariadb-negative-time", "postgres-24h-time", "mariadb-unsigned-bigint", "mariadb-zero-date", "zero-datetime"],
)
def test_a_value_the_declared_type_cannot_carry_fails_naming_the_column(
    engine: str, case: TypeCase, declared: str, drift: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"tm{uuid.uuid4().hex[:8]}"
    with type_table(engine, [case], table):
        name = _config(tmp_path, monkeypatch, engine, table, [{"name": case.name, "type": declared}], drift)
        with pytest.raises(AirflowFailException) as failure:
            run_stages(name, "types", RUN_ID, END, stages=("extract_land",))
    message = str(failure.value)
    assert f"column {case.name!r}: row 2 of the read" in message
    for value in ("18446744073709551615", "24:00", "-01:00", "-3600", "0000"):
        assert value not in message


def test_bigint_unsigned_cursor_under_evolve_lands_exact_decimals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BIGINT UNSIGNED cursor above 2^63: evolve lands it as decimal(20,0), and the watermark is its exact value
    (before: an unnamed OverflowError)."""
    case = TypeCase("counter", "BIGINT UNSIGNED", "", ["1", "18446744073709551615", "2", "9223372036854775808"], [], [])
    table = f"tm{uuid.uuid4().hex[:8]}"
    load = {"mode": "incremental", "cursor_column": "counter"}
    with type_table("mariadb", [case], table):
        columns = [{"name": "counter", "type": "bigint"}]
        name = _config(tmp_path, monkeypatch, "mariadb", table, columns, "evolve", load)
        results = run_stages(name, "types", RUN_ID, END)
        landed = sorted(landed_table(results["extract_land"]).to_pylist(), key=lambda r: r["id"])
    assert [r["counter"] for r in landed] == [Decimal(1), Decimal(2**64 - 1), Decimal(2), Decimal(2**63)]
    assert results["extract_land"]["watermark_to"] == str(2**64 - 1)
