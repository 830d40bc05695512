"""The config's logical column types as Arrow types: what lands is typed by the config, not guessed per batch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from ingestion.config.models import Column

_SIMPLE = {
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
    "timestamp": pa.timestamp("us", tz="UTC"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp_ntz": pa.timestamp("us"),
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\((\d{1,2}),\s*(\d{1,2})\)$")


class UnknownColumnTypeError(ValueError):
    pass


def arrow_type(logical: str) -> pa.DataType:
    name = logical.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    if match := _DECIMAL.match(name):
        precision, scale = int(match[1]), int(match[2])
        if not 1 <= precision <= 38 or scale > precision:
            raise UnknownColumnTypeError(f"decimal({precision},{scale}) needs 1 <= precision <= 38, scale <= precision")
        return pa.decimal128(precision, scale)
    raise UnknownColumnTypeError(
        f"unknown column type {logical!r}; use one of {', '.join(sorted(_SIMPLE))} or decimal(p,s)"
    )


def arrow_schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in columns])
