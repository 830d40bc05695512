"""The columns a SQL source table has now, as the config's logical types, through SQLAlchemy reflection.

Used to detect schema drift before extraction. Custom-query locators are not reflected (their columns are what the
query selects). A type the platform has no logical type for maps to None, which drift reports as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import types as sa

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str | None  # logical type, None when it has none
    nullable: bool
    native: str  # the database's own type name, for messages


def logical_type(type_: Any) -> str | None:
    # Order matters: Boolean before Integer (some dialects derive one from the other), Float before Numeric.
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if type(type_).__name__ == "TINYINT":  # MySQL: TINYINT(1) is how BOOLEAN is stored; other widths fit smallint
        return "boolean" if getattr(type_, "display_width", None) == 1 else "smallint"
    if isinstance(type_, sa.SmallInteger):
        return "smallint"
    if isinstance(type_, sa.BigInteger):
        return "bigint"
    if isinstance(type_, sa.Integer):
        return "integer"
    if isinstance(type_, sa.REAL):
        return "float"
    if isinstance(type_, sa.Float):
        return "float" if (type_.precision or 53) <= 24 else "double"
    if isinstance(type_, sa.Numeric):
        if type_.precision is None:
            return None
        return f"decimal({type_.precision},{type_.scale or 0})"
    if isinstance(type_, sa.DateTime):
        return "timestamp" if type_.timezone else "timestamp_ntz"
    if isinstance(type_, sa.Date):
        return "date"
    if isinstance(type_, sa.JSON):
        return "json"
    if isinstance(type_, sa.String):  # Text, Enum, CHAR, VARCHAR
        return "string"
    if isinstance(type_, sa.LargeBinary):
        return "binary"
    return None


def reflect_columns(engine: Engine, table: str, schema: str | None) -> list[SourceColumn]:
    from sqlalchemy import inspect

    return [
        SourceColumn(c["name"], logical_type(c["type"]), bool(c.get("nullable", True)), str(c["type"]))
        for c in inspect(engine).get_columns(table, schema=schema)
    ]
