"""Untyped records (JSON objects from an API or a JSON Lines file, text cells from a CSV) to typed Arrow batches.

The config's columns decide the types. A record that lacks a required (not nullable) field, or holds a value that
does not fit its column without loss, is not landed and not dropped: it comes back as a `Rejected` with the reason,
for the quarantine file. Text columns are cast in Arrow, vectorised; only a batch with a bad value is redone row by
row, to find which rows are bad.

Declared columns are matched before nested objects are flattened: at every level of a record, a key whose path
(`parent_child`) is a declared column gives that column its value whole, so a `json` column receives its sub-object
(and a PII column's strategy then covers all of it); only what no column takes is flattened further. The fields no
column takes go to the extra column (REST), except those under a PII column's name or `<name>_` prefix, which are
left out: they belong to a PII field and must not travel unmasked.

A reason names the field, its type and what is wrong, never the value: reasons reach task logs, alerts and the
control database, while the raw record stays in the quarantine file (sensitive container).
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.config.column_types import DECIMAL
from ingestion.config.models import Column
from ingestion.extract.arrow_types import arrow_schema
from ingestion.extract.text_values import PATTERNS, NoLosslessText, canonical, carried_text, first_malformed, logical_of


class ValueDoesNotFit(ValueError):
    """A value that its column's type cannot hold without loss."""


@dataclass(frozen=True)
class Rejected:
    """A record that was not landed: where it came from, why, and the record as it arrived (for the quarantine)."""

    where: str
    reason: str
    record: Any

    def as_json(self) -> str:
        line = {"where": self.where, "reason": self.reason, "record": self.record}
        return json.dumps(line, ensure_ascii=False, default=str)


def numbered(label: str, first: int) -> Callable[[int], str]:
    """Names the i-th record of a batch whose first record is number first + 1: "<label> <n>"."""

    def where(index: int) -> str:
        return f"{label} {first + index + 1}"

    return where


def _kind(value: Any) -> str:
    """What a value is, for a reason that must not quote it: "text", "a number", "an object"..."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


FLOAT32_OVERFLOW = "a number out of range for a 32-bit float"
_INT_BOUNDS = {"smallint": 2**15, "integer": 2**31, "int": 2**31, "bigint": 2**63}
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def _to_int(logical: str) -> Callable[[Any], int]:
    bound = _INT_BOUNDS[logical]

    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueDoesNotFit("a boolean is not an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueDoesNotFit("a number that is not whole is not an integer")
            value = int(value)
        elif isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueDoesNotFit("text that is not an integer") from None
        elif not isinstance(value, int):
            raise ValueDoesNotFit(f"{_kind(value)} is not an integer")
        if not -bound <= value < bound:
            raise ValueDoesNotFit(f"an integer out of range for {logical}")
        return value

    return convert


def _to_double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueDoesNotFit(f"{_kind(value)} is not a number")
    try:
        return float(value)  # an integer past a double's range raises OverflowError, which _row words
    except ValueError:
        raise ValueDoesNotFit("text that is not a number") from None


def _to_float32(value: Any) -> float:
    number = _to_double(value)
    try:
        struct.pack("<f", number)  # raises exactly when the number would round to infinity, as Arrow's cast does
    except OverflowError:
        raise ValueDoesNotFit(FLOAT32_OVERFLOW) from None
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueDoesNotFit(f"{_kind(value)} that is not a boolean")


def _to_decimal(precision: int, scale: int) -> Callable[[Any], Decimal]:
    def convert(value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueDoesNotFit(f"{_kind(value)} is not a decimal number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueDoesNotFit("not a finite number")
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            raise ValueDoesNotFit(f"{_kind(value)} that is not a decimal number") from None
        if not number.is_finite():
            raise ValueDoesNotFit("not a finite number")
        try:
            with localcontext() as context:
                context.prec = 80  # room for decimal(38, s); the default 28 digits would refuse wide values
                exact = number.quantize(Decimal(1).scaleb(-scale))
        except InvalidOperation:
            raise ValueDoesNotFit(f"a number that does not fit decimal({precision},{scale})") from None
        if exact != number:
            raise ValueDoesNotFit(f"a number with more than {scale} decimal place(s)")
        if len(exact.as_tuple().digits) > precision and exact != 0:
            raise ValueDoesNotFit(f"a number that does not fit decimal({precision},{scale})")
        return exact

    return convert


def _to_timestamp(aware: bool) -> Callable[[Any], datetime]:
    def convert(value: Any) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueDoesNotFit("text that is not an ISO-8601 timestamp") from None
        else:
            raise ValueDoesNotFit(f"{_kind(value)} is not a timestamp")
        if aware:  # zone-less text is taken as UTC, as zone-less database columns are
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed

    return convert


def _to_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueDoesNotFit(f"{_kind(value)} that is not an ISO-8601 date")


def _to_string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueDoesNotFit(f"{_kind(value)} is not a string")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str, allow_nan=False)
    except ValueError:  # Python's json reads NaN and Infinity from a source; written back, no JSON parser reads them
        raise ValueDoesNotFit("NaN or Infinity, which JSON cannot hold") from None


def _to_binary(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            pass
    raise ValueDoesNotFit(f"{_kind(value)} that is not base64")


def _to_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueDoesNotFit(f"{_kind(value)} that is not an ISO-8601 time of day")


def _to_carried(logical: str) -> Callable[[Any], str]:
    """uuid, interval, decimal: their canonical text (extract/text_values.py)."""

    named = f"{'an' if logical == 'interval' else 'a'} {logical}"

    def convert(value: Any) -> str:
        if isinstance(value, float) and logical == "decimal" and math.isfinite(value):
            value = Decimal(repr(value))
        try:
            text = carried_text(value.strip() if isinstance(value, str) else value, logical)
        except NoLosslessText:
            raise ValueDoesNotFit(f"{_kind(value)} is not {named}") from None
        if logical == "uuid":
            text = text.lower()
        if not re.match(PATTERNS[logical], text):
            raise ValueDoesNotFit(f"{_kind(value)} that is not {named} in its canonical form")
        return text

    return convert


def converter(logical: str) -> Callable[[Any], Any]:
    """The function that turns one untyped value into the Python value of the column's Arrow type."""
    name = logical.strip().lower()
    if name in _INT_BOUNDS:
        return _to_int(name)
    if match := DECIMAL.match(name):
        return _to_decimal(int(match[1]), int(match[2]))
    simple: dict[str, Callable[[Any], Any]] = {
        "string": _to_string,
        "text": _to_string,
        "json": _to_json,
        "float": _to_float32,
        "double": _to_double,
        "boolean": _to_bool,
        "bool": _to_bool,
        "date": _to_date,
        "timestamp": _to_timestamp(True),
        "timestamptz": _to_timestamp(True),
        "timestamp_ntz": _to_timestamp(False),
        "binary": _to_binary,
        "time": _to_time,
        "uuid": _to_carried("uuid"),
        "interval": _to_carried("interval"),
        "decimal": _to_carried("decimal"),
        "numeric": _to_carried("decimal"),
    }
    return simple[name]


def split_record(
    record: Mapping[str, Any], declared: frozenset[str], separator: str = "_"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(declared column -> value, flattened path -> value of what no column takes).

    A key whose path is a declared column gives it the value whole (an object included) before anything under it is
    flattened; objects no column takes are flattened into `parent_child` paths, lists stay. When two paths name one
    column (`{"a_b": 1, "a": {"b": 2}}`), the shallower one wins."""
    taken: dict[str, tuple[int, Any]] = {}
    rest: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], prefix: str, depth: int) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if path in declared:
                if path not in taken or taken[path][0] > depth:
                    taken[path] = (depth, value)
            elif isinstance(value, Mapping) and value:
                walk(value, f"{path}{separator}", depth + 1)
            else:
                rest[path] = value

    walk(record, "", 0)
    return {name: value for name, (_, value) in taken.items()}, rest


class RecordTyper:
    """Types records by the config's columns. `extra_column` (REST) keeps the fields no column takes, as JSON,
    except those under a PII column's name or prefix (see the module docstring)."""

    def __init__(
        self,
        columns: Sequence[Column],
        extra_column: str | None = None,
        *,
        required: Sequence[str] = (),
        required_reason: str = "",
    ) -> None:
        """`required`: columns this read needs a value in, whether or not the column is nullable (an interval run's
        cursor), with the reason said for a record that has none."""
        self.columns = tuple(columns)
        self.extra_column = extra_column
        self._required = frozenset(required)
        self._required_reason = required_reason
        self.names = [c.name for c in self.columns]
        self._taken = frozenset(self.names)
        self._pii_names = tuple(c.name for c in self.columns if c.pii)
        self._converters = [converter(c.type) for c in self.columns]
        landed = [*self.columns, *([Column(name=extra_column, type="json")] if extra_column else [])]
        self.schema = arrow_schema(landed)

    def _under_pii(self, path: str) -> bool:
        return any(path == name or path.startswith(f"{name}_") for name in self._pii_names)

    def _row(self, record: Any) -> list[Any]:
        """One record's values in column order; raises ValueDoesNotFit naming the field (never its value)."""
        if not isinstance(record, Mapping):
            raise ValueDoesNotFit(f"a record must be a JSON object, not {_kind(record)}")
        fields, rest = split_record(record, self._taken)
        row: list[Any] = []
        for column, convert in zip(self.columns, self._converters, strict=True):
            value = fields.get(column.name)
            if value is None:
                if not column.nullable:
                    raise ValueDoesNotFit(f"required field {column.name!r} is missing or null")
                if column.name in self._required:
                    raise ValueDoesNotFit(f"field {column.name!r} is missing or null: {self._required_reason}")
                row.append(None)
                continue
            try:
                row.append(convert(value))
            except ValueDoesNotFit as exc:
                raise ValueDoesNotFit(f"field {column.name!r} ({column.type}): {exc}") from None
            except OverflowError:  # valid text past the type's range, e.g. a zoned time in UTC before year 1
                raise ValueDoesNotFit(f"field {column.name!r} ({column.type}): a value out of range") from None
        if self.extra_column:
            kept = {k: v for k, v in rest.items() if not self._under_pii(k)}
            try:
                row.append(_to_json(kept) if kept else None)
            except ValueDoesNotFit as exc:
                raise ValueDoesNotFit(f"unmapped fields ({self.extra_column}): {exc}") from None
        return row

    def records_to_batch(
        self, records: Iterable[Any], where: Callable[[int], str]
    ) -> tuple[pa.RecordBatch, list[Rejected]]:
        """Typed batch of the records that fit; `where(i)` names the i-th record's origin for the rejected ones."""
        columns: list[list[Any]] = [[] for _ in self.schema]
        rejected: list[Rejected] = []
        for index, record in enumerate(records):
            try:
                row = self._row(record)
            except ValueDoesNotFit as exc:
                rejected.append(Rejected(where(index), str(exc), record))
                continue
            for values, value in zip(columns, row, strict=True):
                values.append(value)
        arrays = [pa.array(values, type=field.type) for values, field in zip(columns, self.schema, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema), rejected

    def batch_to_typed(
        self, batch: pa.RecordBatch, where: Callable[[int], str]
    ) -> tuple[pa.RecordBatch, list[Rejected]]:
        """A batch whose columns are named as the config's (text from a CSV, or typed from Parquet) cast to the
        columns' types; a declared column the batch lacks is NULL.

        The fast path casts each column in Arrow. When a cast fails, or a required column holds NULLs, the batch is
        redone row by row so that only the bad rows are rejected."""
        names = set(batch.schema.names)
        try:
            arrays = []
            for column, field in zip(self.columns, self.schema, strict=False):
                if column.name not in names:
                    if not column.nullable:
                        raise ValueDoesNotFit(column.name)
                    arrays.append(pa.nulls(batch.num_rows, field.type))
                    continue
                values = batch.column(column.name)
                if not column.nullable and values.null_count:
                    raise ValueDoesNotFit(column.name)
                typed = pc.cast(values, field.type)
                if pa.types.is_float32(field.type) and pc.any(pc.is_inf(typed)).as_py():
                    raise ValueDoesNotFit(column.name)  # Arrow casts 1e300 to inf: rows decide what overflowed
                if (logical := logical_of(field)) is not None:  # uuid, interval, decimal: their canonical text
                    typed = canonical(typed, logical)
                    if first_malformed(typed, logical) is not None:
                        raise ValueDoesNotFit(column.name)
                arrays.append(typed)
            return pa.RecordBatch.from_arrays(arrays, schema=self.schema), []
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueDoesNotFit):
            return self.records_to_batch(batch.to_pylist(), where)
