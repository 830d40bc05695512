"""The columns a SQL source table has now, as the config's logical types, through SQLAlchemy reflection.

Used to detect schema drift before extraction. Custom-query locators are not reflected (their columns are what the
query selects). A type the platform has no logical type for maps to None, which drift reports as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import types as sa
from sqlalchemy.sql.sqltypes import _Binary  # LargeBinary, BINARY and VARBINARY alike

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str | None  # logical type, None when it has none
    nullable: bool
    native: str  # the database's own type name, for messages
    textual: bool = False  # the driver returns its values as text already (no cast needed to read it as text)


# Types of no logical type of their own whose text form is the value, exactly: a declared `string` is their type.
_TEXT_FORM = frozenset({"INET", "CIDR", "MACADDR", "MACADDR8", "BIT", "VARBIT", "BIT VARYING", "TSVECTOR", "XML"})


def logical_type(type_: Any) -> str | None:
    """The logical type (config/column_types.py) a source column of this SQLAlchemy type lands as, or None when the
    platform has none for it. The one mapping from source types to logical types: reflection, drift and tooling use
    it. Order matters: Boolean before Integer (some dialects derive one from the other), Float before Numeric."""
    name = type(type_).__name__
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if name == "TINYINT":  # MySQL: TINYINT(1) is how BOOLEAN is stored; other widths fit smallint
        if getattr(type_, "display_width", None) == 1 and not getattr(type_, "unsigned", False):
            return "boolean"
        return "smallint"
    if name == "YEAR":  # MySQL/MariaDB: 1901..2155, or 0
        return "smallint"
    if isinstance(type_, sa.Integer) and getattr(type_, "unsigned", False):
        return _unsigned(type_)
    if name == "MEDIUMINT":
        return "integer"
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
    if name in ("MONEY", "SMALLMONEY") and "mssql" in type(type_).__module__:  # exact, four decimals
        return "decimal(19,4)" if name == "MONEY" else "decimal(10,4)"
    if name == "MONEY":  # PostgreSQL: a count of cents; its text depends on the locale
        return None
    if isinstance(type_, sa.Numeric):
        if type_.precision is None or type_.precision > 38:
            return "decimal"  # exact as text
        return f"decimal({type_.precision},{type_.scale or 0})"
    if isinstance(type_, sa.DateTime):
        # SQL Server's DATETIMEOFFSET carries its offset, though reflection does not set `timezone` for it.
        return "timestamp" if type_.timezone or name == "DATETIMEOFFSET" else "timestamp_ntz"
    if isinstance(type_, sa.Date):
        return "date"
    if isinstance(type_, sa.Time):
        # MySQL's TIME is a duration (-838:59:59 to 838:59:59): it also fits `interval`, and `string` as its text.
        return "string" if type_.timezone else "time"
    if isinstance(type_, sa.Interval) or name == "INTERVAL":
        return "interval"
    if isinstance(type_, sa.Uuid):
        return "uuid"
    if isinstance(type_, sa.JSON | sa.ARRAY):
        return "json"  # an array lands as its JSON text
    if isinstance(type_, sa.String):  # Text, Enum, SET, CHAR, VARCHAR
        return "string"
    if isinstance(type_, _Binary) or (name == "BIT" and "mysql" in type(type_).__module__):  # BLOB, bytea, VARBINARY
        return "binary"
    if name.upper() in _TEXT_FORM:
        return "string"
    return None


def _unsigned(type_: Any) -> str:
    """MySQL's unsigned integers widen to the next type that holds their whole range."""
    if isinstance(type_, sa.BigInteger):
        return "decimal(20,0)"  # up to 2^64 - 1
    if isinstance(type_, sa.SmallInteger) or type(type_).__name__ in ("TINYINT", "MEDIUMINT"):
        return "integer"
    return "bigint"


def _textual(type_: Any) -> bool:
    return isinstance(type_, sa.String) and not isinstance(type_, sa.JSON)


def reflect_columns(engine: Engine, table: str, schema: str | None) -> list[SourceColumn]:
    from sqlalchemy import inspect

    return [
        SourceColumn(
            c["name"], logical_type(c["type"]), bool(c.get("nullable", True)), str(c["type"]), _textual(c["type"])
        )
        for c in inspect(engine).get_columns(table, schema=schema)
    ]
