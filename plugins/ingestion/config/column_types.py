"""The vocabulary of logical column types a config may use. Pure (no pyarrow), so configs are checked at load.

How each type lands (Parquet) and travels (Kafka JSON) is in docs/sources.md "Column types"; the Arrow types are in
extract/arrow_types.py. Types that Parquet or JSON cannot hold exactly in a native form (a UUID, an interval with
months, a decimal wider than 38 digits) are carried as text in one canonical form, checked when read.
"""

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
        "time",
        "timestamp",
        "timestamptz",
        "timestamp_ntz",
        "interval",
        "binary",
        "uuid",
        "decimal",
        "numeric",
    }
)
DECIMAL = re.compile(r"^(?:decimal|numeric)\((\d{1,2}),\s*(\d{1,2})\)$")
# Carried as text in a canonical form (see `canonical_text` in extract/text_values.py): exact, whatever the source.
TEXT_CARRIED = frozenset({"uuid", "interval", "decimal", "numeric"})
TEXT_TYPES = frozenset({"string", "text"})


def normal(logical: str) -> str:
    """The type's canonical spelling: lower case, no blanks, aliases resolved (`int` is `integer`)."""
    name = re.sub(r"\s+", "", logical.strip().lower())
    return {
        "int": "integer",
        "bool": "boolean",
        "text": "string",
        "numeric": "decimal",
        "timestamptz": "timestamp",
    }.get(name, name.replace("numeric(", "decimal("))


def check_column_type(logical: str) -> str | None:
    """None if `logical` is a known type, else what is wrong with it."""
    name = logical.strip().lower()
    if name in SIMPLE_TYPES:
        return None
    if match := DECIMAL.match(name):
        precision, scale = int(match[1]), int(match[2])
        if not 1 <= precision <= 38 or scale > precision:
            return (
                f"decimal({precision},{scale}) needs 1 <= precision <= 38 and scale <= precision; a wider or "
                "unbounded decimal is `decimal` (exact, carried as text)"
            )
        return None
    return f"unknown column type {logical!r}; use one of {', '.join(sorted(SIMPLE_TYPES))} or decimal(p,s)"
