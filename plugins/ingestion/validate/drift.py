"""Schema drift: the source's columns against the declared ones. Pure.

Types are compared as the Arrow types they land as, so `text` vs `string` or `timestamptz` vs `timestamp` are not
drift; neither is a narrower integer or float than declared (it widens without loss), nor a zone-less timestamp
declared as `timestamp` (zone-less DATETIME columns hold UTC), nor a wider decimal, nor `string` for a source type
whose text is lossless (a UUID, TIME, ENUM, inet, YEAR, integer or decimal: `LOSSLESS_AS_TEXT`), nor `decimal` (exact
text) for any decimal, nor `interval` for a TIME. A column the source now allows NULL in, but the
config declares not null, is drift. A column the source makes NOT NULL while the config allows NULL is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingestion.config.column_types import DECIMAL, TEXT_CARRIED, normal
from ingestion.extract.arrow_types import arrow_type
from ingestion.validate.errors import SchemaDriftError

if TYPE_CHECKING:
    from ingestion.config.models import Column
    from ingestion.extract.source_schema import SourceColumn


@dataclass(frozen=True)
class Drift:
    added: list[dict[str, Any]] = field(default_factory=list)  # {name, type, native, nullable}
    missing: list[str] = field(default_factory=list)
    retyped: list[dict[str, Any]] = field(default_factory=list)  # {name, declared, source, native}
    nullable: list[str] = field(default_factory=list)  # declared not null, NULL allowed at the source

    @property
    def any(self) -> bool:
        return bool(self.added or self.missing or self.retyped or self.nullable)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("new: " + ", ".join(f"{c['name']} ({c['native']})" for c in self.added))
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.retyped:
            parts.append(
                "retyped: "
                + ", ".join(f"{c['name']} {c['declared']} -> {c['source'] or c['native']}" for c in self.retyped)
            )
        if self.nullable:
            parts.append("now nullable at the source: " + ", ".join(self.nullable))
        return "; ".join(parts) or "none"

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "missing": self.missing, "retyped": self.retyped, "nullable": self.nullable}


# Source types whose text form is exactly the value (the database prints it the same every time): declared as
# `string`, they land as that text, which is no drift. Not floats (their text may round), timestamps (the session's
# zone) or bytes.
LOSSLESS_AS_TEXT = frozenset({"string", "json", "uuid", "time", "interval", "decimal", "smallint", "integer", "bigint"})
LOSSLESS_AS_TEXT |= {"date", "boolean"}


def _decimal_parts(logical: str) -> tuple[int, int] | None:
    match = DECIMAL.match(logical)
    return (int(match[1]), int(match[2])) if match else None


def compatible_types(declared: str, source: str) -> bool:
    """Whether a source column of logical type `source` lands as `declared` without loss (see the module docstring)."""
    wanted, found = normal(declared), normal(source)
    if wanted == found:
        return True
    found_decimal, wanted_decimal = _decimal_parts(found), _decimal_parts(wanted)
    if wanted == "string":
        return found in LOSSLESS_AS_TEXT or found_decimal is not None
    if wanted == "decimal":  # exact text holds any decimal
        return found_decimal is not None or found in ("smallint", "integer", "bigint")
    if wanted == "interval":  # a time of day, or MySQL's TIME, is a duration
        return found == "time"
    if wanted_decimal is not None and found_decimal is not None:  # as many digits each side of the point, or more
        (p, s), (p2, s2) = wanted_decimal, found_decimal
        return s2 <= s and p2 - s2 <= p - s
    if wanted in TEXT_CARRIED or found in TEXT_CARRIED or "time" in (wanted, found):
        return False
    return _compatible(arrow_type(wanted), arrow_type(found))


def _compatible(declared: pa.DataType, source: pa.DataType) -> bool:
    if declared == source:
        return True
    if pa.types.is_timestamp(declared) and pa.types.is_timestamp(source):
        return True
    if pa.types.is_integer(declared) and pa.types.is_integer(source):
        return source.bit_width <= declared.bit_width
    if pa.types.is_floating(declared) and pa.types.is_floating(source):
        return source.bit_width <= declared.bit_width
    return False


def compare(declared: Sequence[Column], source: Sequence[SourceColumn]) -> Drift:
    at_source = {c.name: c for c in source}
    names = {c.name for c in declared}
    drift = Drift(
        added=[
            {"name": c.name, "type": c.type, "native": c.native, "nullable": c.nullable}
            for c in source
            if c.name not in names
        ],
        missing=[c.name for c in declared if c.name not in at_source],
    )
    for column in declared:
        found = at_source.get(column.name)
        if found is None:
            continue
        if found.type is None or not compatible_types(column.type, found.type):
            drift.retyped.append(
                {"name": column.name, "declared": column.type, "source": found.type, "native": found.native}
            )
        if found.nullable and not column.nullable:
            drift.nullable.append(column.name)
    return drift


def landed_columns(declared: Sequence[Column], drift: Drift, policy: str, where: str) -> tuple[Column, ...]:
    """The columns a run lands under the entity's drift policy, in landing order; raises SchemaDriftError for
    `fail`, and for drift no policy can land (a declared NOT NULL column gone from the source, under `warn`)."""
    from ingestion.config.models import Column

    if not drift.any:
        return tuple(declared)
    if policy == "fail":
        raise SchemaDriftError(
            f"{where}: the source's columns differ from the config ({drift.describe()}); schema_drift is 'fail', so "
            "nothing was landed. Update the entity's columns, or set schema_drift to 'warn' or 'evolve'"
        )
    gone = set(drift.missing)
    if policy == "warn":
        if cannot := [c.name for c in declared if c.name in gone and not c.nullable]:
            raise SchemaDriftError(
                f"{where}: declared NOT NULL column(s) {cannot} are gone from the source ({drift.describe()}); "
                "schema_drift 'warn' would have to land NULLs there. Update the config or use 'evolve'"
            )
        return tuple(declared)
    retyped = {c["name"]: c["source"] for c in drift.retyped if c["source"] is not None}
    relaxed = gone | set(drift.nullable)
    evolved = [
        column.model_copy(
            update={
                "type": retyped.get(column.name, column.type),
                "nullable": column.nullable or column.name in relaxed,
            }
        )
        for column in declared
    ]
    evolved += [
        # The source's own type stays in the description: an ENUM's or SET's allowed values, which `string` drops.
        Column(
            name=c["name"],
            type=c["type"],
            nullable=True,
            description=f"added by schema evolution (source type {c['native']})",
        )
        for c in drift.added
        if c["type"] is not None
    ]
    return tuple(evolved)
