"""The vocabulary of logical column types a config may use. Pure (no pyarrow), so configs are checked at load."""

from __future__ import annotations

import re

SIMPLE_TYPES = frozenset(
    {
        "string",
        "text",
        "json",
        "smallint",
        "integer",
        "int",
        "bigint",
        "float",
        "double",
        "boolean",
        "bool",
        "date",
        "timestamp",
        "timestamptz",
        "timestamp_ntz",
        "binary",
    }
)
DECIMAL = re.compile(r"^(?:decimal|numeric)\((\d{1,2}),\s*(\d{1,2})\)$")


def check_column_type(logical: str) -> str | None:
    """None if `logical` is a known type, else what is wrong with it."""
    name = logical.strip().lower()
    if name in SIMPLE_TYPES:
        return None
    if match := DECIMAL.match(name):
        precision, scale = int(match[1]), int(match[2])
        if not 1 <= precision <= 38 or scale > precision:
            return f"decimal({precision},{scale}) needs 1 <= precision <= 38 and scale <= precision"
        return None
    return f"unknown column type {logical!r}; use one of {', '.join(sorted(SIMPLE_TYPES))} or decimal(p,s)"
