"""Which rows a partition of a partitioned extract_land reads (load.partitions): a condition on each row's own key.

With `ranges`, partition k of n reads the k-th range of an integer key column's values instead (range_condition):
n - 1 cut points split the column's min..max evenly, the first range open below (and holding NULL) and the last
open above, so every row falls in exactly one range whatever its value. The cut points must be the same for every
partition of a run: pipeline/partition_agreement.py reads them once and stores them with the run. A range is an index
range where the column is indexed (a key column usually is), where a modulo or a hash makes every partition scan
the whole table.

Partition k of n reads the rows whose share is k: an integer column's value modulo n, or a hash of the primary key
modulo n. A row's share follows from the row alone, so the partitions agree without bounds computed beforehand, and
every row is read by exactly one partition, however the table changes while they read: a row updated between two
partitions' reads is read once, as one of them saw it. Shares are made non-negative (((v % n) + n) % n: `%` keeps the
dividend's sign), and a NULL key falls in partition 0, so no row falls in none.

The hash is the database's own, over the key's text (columns joined by the unit separator, which a key rarely holds):
Postgres `hashtextextended` (`hashint8extended` for a single integer key), MySQL/MariaDB `CRC32`, SQL Server
`CHECKSUM`. It needs no coordination, only the same function in every partition's query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, cast, column, func, literal, or_
from sqlalchemy.sql.expression import ColumnElement, FromClause

from ingestion.extract.errors import PartitionNotSupportedError

_SEPARATOR = "\x1f"


def partition_condition(
    relation: FromClause,
    dialect: str,
    *,
    count: int,
    partition: int,
    column_name: str | None,
    key: Sequence[str],
    integer_key: bool = False,
) -> ColumnElement[bool]:
    """Rows of partition `partition` of `count`, by `column_name` (an integer column) or a hash of `key`
    (`integer_key`: the key is one integer column, which Postgres hashes without making text of it first)."""
    if not 0 <= partition < count:
        raise ValueError(f"partition {partition} outside 0..{count - 1}")
    if column_name:
        value: ColumnElement[Any] = column(column_name, _selectable=relation)
    else:
        value = _key_hash(relation, dialect, key, integer_key=integer_key)
    share = func.coalesce(_mod(_mod(value, count, dialect) + count, count, dialect), 0)
    return share == literal(partition, Integer)


def _mod(value: ColumnElement[Any], divisor: int, dialect: str) -> ColumnElement[Any]:
    # MOD() where the database has it: the `%` operator is escaped as `%%` for drivers whose parameters look like
    # `%(name)s`, so a statement compiled for one driver and sent by another could carry the escape (the Arrow-native
    # reader once did: adbc_reader compiles without it now).
    if dialect in ("mssql", "sqlite"):
        return value % divisor
    return func.mod(value, divisor)


def _key_hash(relation: FromClause, dialect: str, key: Sequence[str], *, integer_key: bool) -> ColumnElement[Any]:
    if not key:
        raise PartitionNotSupportedError("a partition by hash needs the entity's primary_key")
    columns: list[ColumnElement[Any]] = [column(name, _selectable=relation) for name in key]
    if dialect == "postgresql" and integer_key and len(columns) == 1:
        # Half the database's CPU of hashing the key's text, on a 10M-row table (bench/README.md).
        return func.hashint8extended(cast(columns[0], BigInteger), 0)
    if dialect == "postgresql":
        text = func.concat_ws(_SEPARATOR, *(cast(c, String) for c in columns))
        return func.hashtextextended(text, 0)
    if dialect in ("mysql", "mariadb"):
        return func.crc32(func.concat_ws(_SEPARATOR, *columns))
    if dialect == "mssql":
        # CHECKSUM is an int: made a bigint before the arithmetic, so ((v % n) + n) cannot overflow.
        return cast(func.checksum(*columns), BigInteger)
    raise PartitionNotSupportedError(
        f"partitions by a hash of the primary key are not implemented for {dialect}; partition by an integer column "
        "(load.partitions.column)"
    )


def range_cuts(low: int | None, high: int | None, count: int) -> tuple[int, ...]:
    """`count - 1` cut points splitting low..high (a column's min and max) into `count` ranges of even width; for an
    empty table (no min or max), all 0: partition 0 takes what is below, the last what is at or above."""
    if count < 2:
        raise ValueError(f"ranges need a count of at least 2, not {count}")
    if low is None or high is None:
        return (0,) * (count - 1)
    span = high - low + 1
    return tuple(low + span * k // count for k in range(1, count))


def range_condition(
    relation: FromClause, *, column_name: str, cuts: Sequence[int], partition: int
) -> ColumnElement[bool]:
    """Rows of partition `partition` of `len(cuts) + 1` ranges: [cuts[k - 1], cuts[k]), open at both ends."""
    count = len(cuts) + 1
    if not 0 <= partition < count:
        raise ValueError(f"partition {partition} outside 0..{count - 1}")
    value: ColumnElement[Any] = column(column_name, _selectable=relation)
    if partition == 0:
        # A NULL key (a query's column may have one) compares as neither below nor above any cut: partition 0's.
        return or_(value < literal(cuts[0], BigInteger), value.is_(None))
    if partition == count - 1:
        return value >= literal(cuts[-1], BigInteger)
    return and_(value >= literal(cuts[partition - 1], BigInteger), value < literal(cuts[partition], BigInteger))
