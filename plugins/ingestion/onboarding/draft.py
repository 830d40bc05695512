"""A drafted entity and its columns, as `ingest scaffold` builds them from a source, and the guesses every kind shares:
columns from sampled records, the primary key, the cursor column, PII suggestions, the checks. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingestion.onboarding.pii_hints import PiiSuggestion, suggest_pii
from ingestion.onboarding.value_types import infer_type

# updated_at, last_modified, modified_on, changed_ts, UpdatedAt, ...: a row's last change, the best cursor.
_CHANGE_TIME = re.compile(
    r"(^|_)(updated|modified|changed|last_?update|last_?modified|last_?changed)(_?(at|on|time|ts|date))?$"
)
TIMESTAMP_TYPES = frozenset({"timestamp", "timestamptz", "timestamp_ntz"})
INTEGER_TYPES = frozenset({"smallint", "integer", "int", "bigint"})


@dataclass
class DraftColumn:
    name: str
    type: str
    nullable: bool
    note: str = ""  # why the type needs a look (carried as text, guessed from a sample, ...)
    pii: PiiSuggestion | None = None

    def as_config(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        parts = [self.pii.describe() if self.pii else "", self.note]
        column["description"] = "; ".join(p for p in parts if p)
        if self.pii is not None:  # applied, so a draft left as it is masks rather than leaks
            column |= {"pii": True, "pii_strategy": self.pii.strategy}
        return column


@dataclass
class DraftEntity:
    name: str
    locator: dict[str, Any]
    columns: list[DraftColumn]
    primary_key: list[str] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=lambda: {"mode": "full"})
    description: str = "TODO: what one record is, and who uses it"
    schema_drift: str | None = None
    notes: list[str] = field(default_factory=list)  # for the summary: what to look at in this entity

    def checks(self) -> list[dict[str, Any]]:
        if not self.primary_key:
            return []
        return [{"kind": "not_null", "columns": self.primary_key}, {"kind": "unique", "columns": self.primary_key}]

    def as_config(self) -> dict[str, Any]:
        entity: dict[str, Any] = {"name": self.name, "description": self.description, "locator": self.locator}
        if self.primary_key:
            entity["primary_key"] = self.primary_key
        entity["columns"] = [c.as_config() for c in self.columns]
        entity["load"] = self.load
        if checks := self.checks():
            entity["checks"] = checks
        if self.schema_drift:
            entity["schema_drift"] = self.schema_drift
        return entity


def entity_name(text: str) -> str:
    """A config name (lower snake_case, starting with a letter) for a table, a path or a file pattern."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    name = re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")
    return name if name[:1].isalpha() else f"e_{name}".rstrip("_")


def suggest_all_pii(columns: Sequence[DraftColumn], samples: Mapping[str, Sequence[object]]) -> None:
    for column in columns:
        column.pii = suggest_pii(column.name, samples.get(column.name, ()))


def columns_from_records(records: Sequence[Mapping[str, Any]]) -> tuple[list[DraftColumn], dict[str, list[object]]]:
    """Columns for flattened records (field path -> value), in first-seen order, typed from their values; and the
    sampled values by column. A field missing from a record, or null in one, is nullable."""
    values: dict[str, list[object]] = {}
    for record in records:
        for path, value in record.items():
            values.setdefault(path, []).append(value)
    columns = []
    for path, seen in values.items():
        inferred = infer_type(seen)
        nullable = len(seen) < len(records) or any(v is None for v in seen)
        columns.append(DraftColumn(path, inferred.type, nullable, inferred.note))
    return columns, values


def guess_primary_key(columns: Sequence[DraftColumn], samples: Mapping[str, Sequence[object]]) -> list[str]:
    """`id`, else the first `*_id` / `*id` column, whose sampled values are all present and distinct."""

    def unique(column: DraftColumn) -> bool:
        seen = samples.get(column.name, ())
        return bool(seen) and not column.nullable and len({str(v) for v in seen}) == len(seen)

    ranked = sorted(
        columns, key=lambda c: (c.name.lower() != "id", not c.name.lower().endswith("id"), columns.index(c))
    )
    for column in ranked:
        if column.name.lower().endswith("id") and unique(column):
            return [column.name]
    return []


def guess_cursor(columns: Sequence[DraftColumn], primary_key: Sequence[str]) -> tuple[str | None, str]:
    """The suggested cursor column and why: an updated_at-like timestamp (rows changed in place are read again), else
    a single integer key (monotonically increasing: only new rows are read)."""
    for column in columns:
        if column.type in TIMESTAMP_TYPES and _CHANGE_TIME.search(entity_name(column.name)) and not column.nullable:
            return column.name, f"cursor {column.name}: a timestamp of each row's last change"
    if len(primary_key) == 1:
        key = next(c for c in columns if c.name == primary_key[0])
        if key.type in INTEGER_TYPES:
            return key.name, (
                f"cursor {key.name}: the integer key, if it only grows; rows changed in place are not read again "
                "(use a last-change timestamp if the source has one)"
            )
    return None, "no cursor found (no last-change timestamp, no integer key): drafted as a full load"
