"""Schema drift: what counts as drift, and what each policy lands."""

from __future__ import annotations

import pytest
from sqlalchemy import types as sa
from sqlalchemy.dialects import mssql, mysql, postgresql

from ingestion.config.models import Column
from ingestion.extract.source_schema import SourceColumn, logical_type
from ingestion.validate.drift import compare, landed_columns
from ingestion.validate.errors import SchemaDriftError

DECLARED = (
    Column(name="id", type="bigint", nullable=False),
    Column(name="name", type="string"),
    Column(name="amount", type="decimal(12,2)", nullable=False),
    Column(name="at", type="timestamp", nullable=False),
)


def _source(*changes: SourceColumn, drop: tuple[str, ...] = ()) -> list[SourceColumn]:
    base = {
        "id": SourceColumn("id", "integer", False, "INTEGER"),  # narrower than declared: widens, no drift
        "name": SourceColumn("name", "string", False, "TEXT"),  # NOT NULL where NULL is allowed: no drift
        "amount": SourceColumn("amount", "decimal(12,2)", False, "NUMERIC(12, 2)"),
        "at": SourceColumn("at", "timestamp_ntz", False, "DATETIME"),  # zone-less holds UTC: no drift
    }
    base.update({c.name: c for c in changes})
    return [c for n, c in base.items() if n not in drop]


def test_compatible_sources_are_not_drift() -> None:
    assert not compare(DECLARED, _source()).any


def test_each_kind_of_drift_is_described() -> None:
    drift = compare(
        DECLARED,
        _source(
            SourceColumn("amount", "decimal(14,3)", False, "NUMERIC(14, 3)"),
            SourceColumn("at", "timestamp", True, "TIMESTAMPTZ"),
            SourceColumn("region", "string", True, "TEXT"),
            SourceColumn("blob", None, True, "INTERVAL"),
            drop=("name",),
        ),
    )
    assert drift.describe() == (
        "new: region (TEXT), blob (INTERVAL); missing: name; retyped: amount decimal(12,2) -> decimal(14,3); "
        "now nullable at the source: at"
    )


def test_policies() -> None:
    drift = compare(
        DECLARED,
        _source(
            SourceColumn("amount", "decimal(14,3)", False, "NUMERIC"),
            SourceColumn("region", "string", True, "TEXT"),
            SourceColumn("blob", None, True, "INTERVAL"),
            drop=("name",),
        ),
    )
    with pytest.raises(SchemaDriftError, match="schema_drift is 'fail', so nothing was landed"):
        landed_columns(DECLARED, drift, "fail", "s.e")
    assert landed_columns(DECLARED, drift, "warn", "s.e") == DECLARED
    evolved = {c.name: c for c in landed_columns(DECLARED, drift, "evolve", "s.e")}
    assert list(evolved) == ["id", "name", "amount", "at", "region"]  # an unmappable new column is left out
    assert evolved["amount"].type == "decimal(14,3)"
    assert evolved["name"].nullable
    assert evolved["region"].nullable


def test_warn_cannot_fill_a_not_null_column_that_is_gone() -> None:
    drift = compare(DECLARED, _source(drop=("amount",)))
    with pytest.raises(SchemaDriftError, match=r"NOT NULL column\(s\) \['amount'\]"):
        landed_columns(DECLARED, drift, "warn", "s.e")


@pytest.mark.parametrize(
    ("type_", "logical"),
    [
        (postgresql.INTEGER(), "integer"),
        (postgresql.BIGINT(), "bigint"),
        (postgresql.NUMERIC(12, 2), "decimal(12,2)"),
        (postgresql.NUMERIC(), "decimal"),
        (postgresql.NUMERIC(50, 10), "decimal"),
        (postgresql.MONEY(), None),
        (postgresql.DOUBLE_PRECISION(), "double"),
        (postgresql.REAL(), "float"),
        (postgresql.TIMESTAMP(timezone=True), "timestamp"),
        (postgresql.TIMESTAMP(), "timestamp_ntz"),
        (postgresql.TEXT(), "string"),
        (postgresql.BOOLEAN(), "boolean"),
        (postgresql.JSONB(), "json"),
        (postgresql.BYTEA(), "binary"),
        (mysql.TINYINT(display_width=1), "boolean"),
        (mysql.TINYINT(), "smallint"),
        (mysql.DATETIME(), "timestamp_ntz"),
        (sa.Date(), "date"),
        (postgresql.INTERVAL(), "interval"),
        (postgresql.UUID(), "uuid"),
        (postgresql.TIME(), "time"),
        (postgresql.TIME(timezone=True), "string"),
        (postgresql.ARRAY(postgresql.INTEGER()), "json"),
        (postgresql.ENUM("ok", "sad", name="mood"), "string"),
        (postgresql.INET(), "string"),
        (postgresql.CIDR(), "string"),
        (postgresql.BIT(4), "string"),
        (mysql.TIME(fsp=6), "time"),
        (mysql.YEAR(), "smallint"),
        (mysql.VARBINARY(16), "binary"),
        (mysql.BINARY(4), "binary"),
        (mysql.BIT(4), "binary"),
        (mysql.BIGINT(unsigned=True), "decimal(20,0)"),
        (mysql.INTEGER(unsigned=True), "bigint"),
        (mysql.SMALLINT(unsigned=True), "integer"),
        (mysql.MEDIUMINT(unsigned=True), "integer"),
        (mysql.TINYINT(display_width=3, unsigned=True), "smallint"),
        (mysql.DECIMAL(65, 30), "decimal"),
        (mysql.ENUM("x", "y"), "string"),
        (mysql.SET("a", "b"), "string"),
        (mssql.UNIQUEIDENTIFIER(), "uuid"),
        (mssql.DATETIMEOFFSET(), "timestamp"),
        (mssql.DATETIME2(), "timestamp_ntz"),
        (mssql.TIME(), "time"),
        (mssql.BIT(), "boolean"),
        (mssql.MONEY(), "decimal(19,4)"),
        (mssql.SMALLMONEY(), "decimal(10,4)"),
        (mssql.DECIMAL(38, 4), "decimal(38,4)"),
    ],
)
def test_reflected_types_map_to_logical_types(type_: object, logical: str | None) -> None:
    assert logical_type(type_) == logical


@pytest.mark.parametrize(
    ("declared", "source"),
    [
        ("string", "uuid"),  # a PostgreSQL uuid as its text
        ("string", "time"),  # a MariaDB TIME as '-838:59:59'
        ("string", "interval"),
        ("string", "smallint"),  # a MariaDB YEAR as '2155'
        ("string", "decimal(20,0)"),
        ("string", "decimal"),
        ("interval", "time"),  # a MariaDB TIME is a duration
        ("decimal", "decimal(38,10)"),  # exact text holds any decimal
        ("decimal(20,0)", "decimal(20,0)"),  # BIGINT UNSIGNED
        ("decimal(14,2)", "decimal(12,2)"),  # wider than the source's on both sides of the point
        ("integer", "smallint"),  # a YEAR
        ("binary", "binary"),  # VARBINARY
        ("numeric", "decimal"),
    ],
)
def test_lossless_declarations_are_not_drift(declared: str, source: str) -> None:
    assert not compare([Column(name="c", type=declared)], [SourceColumn("c", source, True, "X")]).any


@pytest.mark.parametrize(
    ("declared", "source"),
    [
        ("bigint", "decimal(20,0)"),  # BIGINT UNSIGNED above 2^63 does not fit
        ("string", "double"),  # a float's text may round
        ("string", "binary"),
        ("string", "timestamp"),  # the text depends on the session's zone
        ("time", "interval"),  # a duration is not a time of day
        ("uuid", "string"),
        ("decimal(12,2)", "decimal(12,3)"),
        ("decimal(12,2)", "decimal"),
        ("integer", "uuid"),
    ],
)
def test_lossy_declarations_are_drift(declared: str, source: str) -> None:
    drift = compare([Column(name="c", type=declared)], [SourceColumn("c", source, True, "X")])
    assert [c["name"] for c in drift.retyped] == ["c"]


def test_evolve_keeps_an_added_enums_allowed_values_in_its_description() -> None:
    added = SourceColumn("mood", "string", True, "ENUM('ok','sad')")
    drift = compare(DECLARED, [*_source(), added])
    columns = landed_columns(DECLARED, drift, "evolve", "x.y")
    assert columns[-1].name == "mood"
    assert columns[-1].type == "string"
    assert columns[-1].description == "added by schema evolution (source type ENUM('ok','sad'))"
