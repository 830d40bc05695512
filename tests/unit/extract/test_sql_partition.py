"""The condition each partition of a partitioned SQL read adds: compiled per dialect, and run on SQLite to show that
every row falls in exactly one partition (negative keys and NULL included)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import mssql, mysql, postgresql

from ingestion.extract.errors import PartitionNotSupportedError
from ingestion.extract.sql_partition import partition_condition, range_condition, range_cuts
from ingestion.extract.sql_query import select_count, source_relation

RELATION = source_relation(table_name="Line Items", schema="Sales Ops", query=None)


def compiled(dialect: object, name: str, **kwargs: object) -> str:
    condition = partition_condition(RELATION, name, count=4, partition=1, **kwargs)  # type: ignore[arg-type]
    return str(condition.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dialect", "name", "hashed"),
    [
        (
            postgresql.dialect(),
            "postgresql",
            'hashtextextended(concat_ws(\'\x1f\', CAST("Sales Ops"."Line Items".id '
            'AS VARCHAR), CAST("Sales Ops"."Line Items".region AS VARCHAR)), 0)',
        ),
        (
            mysql.dialect(),
            "mysql",
            "crc32(concat_ws('\x1f', `Sales Ops`.`Line Items`.id, `Sales Ops`.`Line Items`.region))",
        ),
        (
            mssql.dialect(),
            "mssql",
            "CAST(checksum([Sales Ops].[Line Items].id, [Sales Ops].[Line Items].region) AS BIGINT)",
        ),
    ],
)
def test_a_hash_of_the_primary_key_compiles_to_the_databases_own_hash(dialect: object, name: str, hashed: str) -> None:
    sql = compiled(dialect, name, column_name=None, key=("id", "region"))
    if name == "mssql":
        assert sql == f"coalesce(({hashed} % 4 + 4) % 4, 0) = 1"
    else:
        assert sql == f"coalesce(mod(mod({hashed}, 4) + 4, 4), 0) = 1"


def test_a_single_integer_key_is_hashed_without_text_on_postgres() -> None:
    sql = compiled(postgresql.dialect(), "postgresql", column_name=None, key=("id",), integer_key=True)
    assert sql == (
        'coalesce(mod(mod(hashint8extended(CAST("Sales Ops"."Line Items".id AS BIGINT), 0), 4) + 4, 4), 0) = 1'
    )


def test_a_hash_is_refused_where_the_database_has_none_here() -> None:
    with pytest.raises(PartitionNotSupportedError, match="not implemented for sqlite; partition by an integer column"):
        partition_condition(RELATION, "sqlite", count=2, partition=0, column_name=None, key=("id",))


def test_a_partition_outside_the_count_is_refused() -> None:
    with pytest.raises(ValueError, match=r"partition 2 outside 0\.\.1"):
        partition_condition(RELATION, "postgresql", count=2, partition=2, column_name="id", key=())


def test_every_row_of_an_integer_column_falls_in_exactly_one_partition() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id integer)"))
        conn.execute(text("INSERT INTO t VALUES (-7), (-1), (0), (1), (2), (3), (8), (NULL), (9223372036854775807)"))
    relation = source_relation(table_name="t", schema=None, query=None)
    full = select_count(relation, None, _full())
    found = []
    with engine.connect() as conn:
        total = conn.execute(full).scalar_one()
        for k in range(3):
            share = partition_condition(relation, "sqlite", count=3, partition=k, column_name="id", key=())
            found.append(conn.execute(select(text("id")).select_from(relation).where(share)).scalars().all())
    assert sum(len(f) for f in found) == total == 9
    assert None in found[0]  # a NULL key falls in partition 0
    assert sorted(v for f in found for v in f if v is not None) == [-7, -1, 0, 1, 2, 3, 8, 9223372036854775807]


def _full():  # type: ignore[no-untyped-def]
    from ingestion.config.models import LoadMode
    from ingestion.extract.cursor import Cursor

    return Cursor.for_rows(LoadMode(), None, full_refresh=False, where="t").full_window()


@pytest.mark.parametrize(
    ("low", "high", "count", "cuts"),
    [
        (1, 100, 4, (26, 51, 76)),
        (-10, 9, 2, (0,)),
        (5, 5, 3, (5, 5)),  # one value: the last range holds it, the others are empty
        (None, None, 3, (0, 0)),  # an empty table: the cuts do not matter, every range is open at its outer end
    ],
)
def test_range_cuts_split_the_columns_values_evenly(
    low: int | None, high: int | None, count: int, cuts: tuple[int, ...]
) -> None:
    assert range_cuts(low, high, count) == cuts


def test_a_range_compiles_to_an_index_range_on_the_column() -> None:
    def sql(partition: int) -> str:
        condition = range_condition(RELATION, column_name="id", cuts=(26, 51, 76), partition=partition)
        return str(condition.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))

    column = '"Sales Ops"."Line Items".id'
    assert sql(0) == f"{column} < 26 OR {column} IS NULL"
    assert sql(1) == f"{column} >= 26 AND {column} < 51"
    assert sql(3) == f"{column} >= 76"


def test_every_row_falls_in_exactly_one_range_also_outside_the_measured_min_and_max() -> None:
    """Cuts measured on 1..100; rows written since fall below and above: the outer ranges are open."""
    values = [-50, 0, 1, 25, 26, 50, 51, 99, 100, 101, 9223372036854775807]
    found = _ranges_of(values, range_cuts(1, 100, 4))
    assert sorted(v for share in found for v in share) == values  # each once
    assert found[0] == [-50, 0, 1, 25]
    assert found[3] == [99, 100, 101, 9223372036854775807]


def test_a_null_key_falls_in_the_first_range() -> None:
    """A query's key column may hold NULL, which compares as neither below nor above a cut."""
    assert _ranges_of([None, 5, 50], (10,)) == [[None, 5], [50]]


def _ranges_of(values: list[int | None], cuts: tuple[int, ...]) -> list[list[int | None]]:
    """The ids each range of `cuts` reads from a SQLite table of `values`, in insertion order."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id integer)"))
        conn.execute(text("INSERT INTO t VALUES " + ", ".join(f"({'NULL' if v is None else v})" for v in values)))
    relation = source_relation(table_name="t", schema=None, query=None)
    with engine.connect() as conn:
        return [
            list(
                conn.execute(
                    select(text("id"))
                    .select_from(relation)
                    .where(range_condition(relation, column_name="id", cuts=cuts, partition=k))
                ).scalars()
            )
            for k in range(len(cuts) + 1)
        ]
