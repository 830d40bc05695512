"""The config's logical column types as Arrow types: what lands is typed by the config, not guessed per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from ingestion.config.column_types import DECIMAL, SIMPLE_TYPES, TEXT_CARRIED, check_column_type
from ingestion.extract.errors import UnknownColumnTypeError
from ingestion.extract.text_values import LOGICAL_KEY

if TYPE_CHECKING:
    from ingestion.config.models import Column

_SIMPLE: dict[str, pa.DataType] = {
    "string": pa.string(),
    "text": pa.string(),
    "json": pa.string(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "time": pa.time64("us"),  # a time of day, 00:00:00 up to but not including 24:00:00
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
    "binary": pa.binary(),
    # Exact as canonical text (extract/text_values.py): Parquet's UUID and INTERVAL types and decimal128 cannot hold
    # every source value (an interval's microseconds, a numeric's 1000 digits), and JSON carries them as strings.
    "uuid": pa.string(),
    "interval": pa.string(),
    "decimal": pa.string(),
    "numeric": pa.string(),
}


assert set(_SIMPLE) == SIMPLE_TYPES, "every logical type needs an Arrow type"


def arrow_type(logical: str) -> pa.DataType:
    if (problem := check_column_type(logical)) is not None:
        raise UnknownColumnTypeError(problem)
    name = logical.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    match = DECIMAL.match(name)
    assert match is not None
    return pa.decimal128(int(match[1]), int(match[2]))


def arrow_field(name: str, logical: str, nullable: bool = True) -> pa.Field:
    """The column's Arrow field. A text-carried type (uuid, interval, decimal) names itself in the field's metadata,
    so readers check its canonical form and the Parquet schema says what the text is."""
    name_of_type = logical.strip().lower()
    metadata = {LOGICAL_KEY: name_of_type.encode()} if name_of_type in TEXT_CARRIED else None
    return pa.field(name, arrow_type(logical), nullable=nullable, metadata=metadata)


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([arrow_field(c.name, c.type, c.nullable) for c in columns])


def localized(array: pa.Array, target: pa.DataType, zone: str) -> pa.Array:
    """Zone-less timestamps bound for a zoned landing type (`target`), as `target` values: the instants they are in
    the source's `zone` (extract/source_zone.py). A wall-clock time in the hour repeated when clocks go back is taken
    as its earlier instant, one in the hour skipped when clocks go forward as the first instant after the gap (as
    `source_zone.instant` takes them). Anything else is returned unchanged, for the caller's own cast."""
    import pyarrow.compute as pc

    if not (pa.types.is_timestamp(array.type) and array.type.tz is None):
        return array
    if not (pa.types.is_timestamp(target) and target.tz is not None):
        return array
    if zone != "UTC":
        array = pc.assume_timezone(array, timezone=zone, ambiguous="earliest", nonexistent="latest")
    return array.cast(target)  # a zone-less value casts to a zoned type as the UTC instant of its digits
