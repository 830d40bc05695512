"""Schema drift: what counts as drift, and what each policy lands."""

from __future__ import annotations

import pytest
from sqlalchemy import types as sa
from sqlalchemy.dialects import mysql, postgresql

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
        (postgresql.NUMERIC(), None),
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
        (postgresql.INTERVAL(), None),
    ],
)
def test_reflected_types_map_to_logical_types(type_: object, logical: str | None) -> None:
    assert logical_type(type_) == logical
