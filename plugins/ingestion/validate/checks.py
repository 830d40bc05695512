"""Content checks from the config, run over a run's landed batches in one pass and bounded memory.

Each check sees every batch (only the columns it names are read), keeps a small running state (counts, a max, a
few examples) and gives one CheckResult at the end. `unique` is the one that grows with the data: it keeps one
16-byte digest per row (an integer key keeps the integers), about 80 MB for 5M rows. Pure: pyarrow only.

A failed value check names the landed rows of its first offenders (1-based, in landing order) and quotes their values
only for columns without personal data: a column in `pii_columns` is described by row positions alone (and a
duplicate key by its digest), since details reach task logs, alerts and the control DB.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.validate.check_result import CheckResult

if TYPE_CHECKING:
    from ingestion.config.models import Check

EXAMPLES = 5  # offending values quoted in a result: enough to act on, never a dump of the data


@dataclass(frozen=True)
class RunFacts:
    """What checks need besides the rows: the landed count, the clock, the cursor and recent runs' counts."""

    rows: int
    now: datetime
    cursor_column: str | None = None
    previous_high: Any = None  # the newest cursor value before this run (its starting watermark), if any
    recent_rows: Sequence[int] = ()  # rows landed by the entity's last committed runs, newest first


def check_name(check: Check) -> str:
    return f"{check.kind}({','.join(check.columns)})" if check.columns else check.kind


class _Accumulator:
    def __init__(self, check: Check, cursor_column: str | None) -> None:
        self.check = check
        self.name = check_name(check)
        self.quote_values = True  # False when a column it reads holds personal data (ContentChecks decides)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.check.columns

    def update(self, batch: pa.RecordBatch) -> None:
        return None

    def result(self, facts: RunFacts) -> CheckResult:
        raise NotImplementedError

    def _result(self, passed: bool, detail: str, severity: str | None = None, **observed: Any) -> CheckResult:
        return CheckResult(self.name, self.check.kind, passed, severity or self.check.severity, detail, observed)


def _examples(array: pa.Array, mask: pa.Array) -> list[Any]:
    bad = pc.unique(array.filter(mask)).slice(0, EXAMPLES)
    return [v if isinstance(v, int | float | str | bool) or v is None else str(v) for v in bad.to_pylist()]


class _NotNull(_Accumulator):
    def __init__(self, check: Check, cursor_column: str | None) -> None:
        super().__init__(check, cursor_column)
        self.nulls = dict.fromkeys(check.columns, 0)

    def update(self, batch: pa.RecordBatch) -> None:
        for name in self.columns:
            self.nulls[name] += batch.column(name).null_count

    def result(self, facts: RunFacts) -> CheckResult:
        bad = {k: v for k, v in self.nulls.items() if v}
        detail = ", ".join(f"{k}: {v} NULL(s)" for k, v in bad.items()) or f"no NULLs in {facts.rows} rows"
        return self._result(not bad, detail, nulls=self.nulls)


def _row_keys(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.Array:
    """One int64 per row that is equal when the key is: the integer itself for a one-column integer key, else the
    first 8 bytes of a BLAKE2b of the key's text with NULLs marked (so (1, NULL) and (1, '') differ). Two different
    keys share a digest with probability about n^2 / 2^65 (1e-6 for 5M rows): a reported duplicate of a hashed key
    is then worth a look at the rows (the detail names the key columns)."""
    if len(columns) == 1 and pa.types.is_integer(batch.column(columns[0]).type):
        return batch.column(columns[0]).cast(pa.int64())
    parts = []
    for name in columns:
        values = batch.column(name)
        text = values if pa.types.is_string(values.type) else values.cast(pa.string())
        parts.append(pc.binary_join_element_wise(pa.scalar("v"), text, "").fill_null("\x00"))
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
    blake = hashlib.blake2b
    digests = [
        int.from_bytes(blake(v, digest_size=8).digest(), "little", signed=True)
        for v in joined.cast(pa.binary()).to_pylist()
    ]
    return pa.array(digests, pa.int64())


class _Unique(_Accumulator):
    """Keeps 8 bytes per row; at the end sorts them and compares neighbours (a sort needs less memory than a hash
    table: the keys, their order and one sorted copy)."""

    def __init__(self, check: Check, cursor_column: str | None) -> None:
        super().__init__(check, cursor_column)
        self.chunks: list[pa.Array] = []
        self.raw_integers = False  # the key is one integer column, kept as is (so examples can be shown)

    def update(self, batch: pa.RecordBatch) -> None:
        if len(self.columns) == 1:
            column = batch.column(self.columns[0])
            self.raw_integers = pa.types.is_integer(column.type)
            if column.null_count:  # NULL keys are not duplicates of each other, as in SQL
                batch = batch.filter(pc.is_valid(column))
        if batch.num_rows:
            self.chunks.append(_row_keys(batch, self.columns))

    def result(self, facts: RunFacts) -> CheckResult:
        if not self.chunks:
            return self._result(True, "no rows")
        keys = pa.chunked_array(self.chunks)
        self.chunks = []
        ordered = keys.take(pc.sort_indices(keys))
        del keys
        count = len(ordered)
        same = pc.equal(ordered.slice(1), ordered.slice(0, count - 1)) if count > 1 else pa.array([], pa.bool_())
        extra_rows = pc.sum(same).as_py() or 0
        if not extra_rows:
            return self._result(True, f"{count} distinct key(s)", duplicates=0)
        repeated = pc.unique(ordered.slice(1).filter(same))
        example = repeated.slice(0, EXAMPLES).to_pylist()
        raw = self.raw_integers and self.quote_values
        shown = example if raw else [f"digest {v & 0xFFFFFFFFFFFFFFFF:016x}" for v in example]
        return self._result(
            False,
            f"{len(repeated)} key value(s) appear more than once ({extra_rows} extra row(s)); e.g. {shown}",
            duplicates=len(repeated),
            extra_rows=extra_rows,
        )


class _ValueCheck(_Accumulator):
    """Counts non-NULL values that break a per-value rule, with the landed rows of the first few and (for columns
    without personal data) their values."""

    def __init__(self, check: Check, cursor_column: str | None) -> None:
        super().__init__(check, cursor_column)
        self.bad = 0
        self.seen = 0  # rows of the earlier batches, for row positions
        self.rows: list[int] = []
        self.examples: list[Any] = []

    def violations(self, values: pa.Array) -> pa.Array:
        raise NotImplementedError

    def rule(self) -> str:
        raise NotImplementedError

    def update(self, batch: pa.RecordBatch) -> None:
        values = batch.column(self.columns[0])
        mask = pc.and_kleene(pc.is_valid(values), self.violations(values)).fill_null(False)
        count = pc.sum(mask).as_py() or 0
        if count:
            self.bad += count
            if len(self.rows) < EXAMPLES:
                first = pc.indices_nonzero(mask).slice(0, EXAMPLES - len(self.rows)).to_pylist()
                self.rows += [self.seen + index + 1 for index in first]
            if self.quote_values and len(self.examples) < EXAMPLES:
                self.examples = (self.examples + _examples(values, mask))[:EXAMPLES]
        self.seen += batch.num_rows

    def result(self, facts: RunFacts) -> CheckResult:
        if not self.bad:
            return self._result(True, f"every value {self.rule()}", violations=0)
        detail = f"{self.bad} value(s) of {self.columns[0]} not {self.rule()}; first at landed row(s) {self.rows}"
        observed: dict[str, Any] = {"violations": self.bad, "rows": self.rows}
        if self.quote_values:
            detail += f"; e.g. {self.examples}"
            observed["examples"] = self.examples
        return self._result(False, detail, **observed)


class _AcceptedValues(_ValueCheck):
    def violations(self, values: pa.Array) -> pa.Array:
        accepted = pa.array(self.check.params["values"]).cast(values.type)
        return pc.invert(pc.is_in(values, value_set=accepted))

    def rule(self) -> str:
        return f"in {list(self.check.params['values'])}"


def _bound(value: Any, type_: pa.DataType) -> pa.Scalar:
    scalar = pa.scalar(value)
    if pa.types.is_timestamp(type_) and pa.types.is_string(scalar.type):
        stamp = datetime.fromisoformat(str(value))
        scalar = pa.scalar(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    elif pa.types.is_time(type_) and pa.types.is_string(scalar.type):
        scalar = pa.scalar(time.fromisoformat(str(value)))  # Arrow has no cast from text to a time of day
    elif pa.types.is_decimal(type_):
        scalar = pa.scalar(str(value)).cast(type_)
    return scalar.cast(type_)


class _Range(_ValueCheck):
    def violations(self, values: pa.Array) -> pa.Array:
        params = self.check.params
        outside = pa.nulls(len(values), pa.bool_()).fill_null(False)
        if params.get("min") is not None:
            outside = pc.or_(outside, pc.less(values, _bound(params["min"], values.type)))
        if params.get("max") is not None:
            outside = pc.or_(outside, pc.greater(values, _bound(params["max"], values.type)))
        return outside

    def rule(self) -> str:
        params = self.check.params
        return f"within [{params.get('min', '-inf')}, {params.get('max', '+inf')}]"


class _Regex(_ValueCheck):
    def violations(self, values: pa.Array) -> pa.Array:
        text = values if pa.types.is_string(values.type) else values.cast(pa.string())
        return pc.invert(pc.match_substring_regex(text, self.check.params["pattern"]))

    def rule(self) -> str:
        return f"matching {self.check.params['pattern']!r}"


class _Freshness(_Accumulator):
    def __init__(self, check: Check, cursor_column: str | None) -> None:
        super().__init__(check, cursor_column)
        self.column = check.columns[0] if check.columns else cursor_column
        self.newest: Any = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.column else ()

    def update(self, batch: pa.RecordBatch) -> None:
        if self.column is None:
            return
        newest = pc.max(batch.column(self.column)).as_py()
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest

    def result(self, facts: RunFacts) -> CheckResult:
        if self.column is None:
            return self._result(False, "no column to measure: name one, or give the entity a cursor column")
        newest = self.newest
        if newest is None or (facts.previous_high is not None and facts.previous_high > newest):
            newest = facts.previous_high  # nothing newer landed: the data is as fresh as the last run left it
        limit = timedelta(minutes=float(self.check.params["max_age_minutes"]))
        if newest is None:
            return self._result(False, f"no value of {self.column} to measure freshness by")
        if not isinstance(newest, datetime):
            return self._result(False, f"{self.column} is not a timestamp column")
        newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        age = facts.now - newest
        ok = age <= limit
        detail = f"newest {self.column} {newest.isoformat()} is {age} old ({'within' if ok else 'over'} {limit})"
        return self._result(ok, detail, newest=newest.isoformat(), age_minutes=round(age.total_seconds() / 60, 1))


class _RowCount(_Accumulator):
    def result(self, facts: RunFacts) -> CheckResult:
        low, high = self.check.params.get("min"), self.check.params.get("max")
        ok = (low is None or facts.rows >= low) and (high is None or facts.rows <= high)
        bounds = f"[{low if low is not None else 0}, {high if high is not None else '+inf'}]"
        return self._result(ok, f"{facts.rows} rows, expected {bounds}", rows=facts.rows)


class _ZeroRows(_Accumulator):
    def result(self, facts: RunFacts) -> CheckResult:
        policy = self.check.params.get("policy", "fail" if self.check.severity == "error" else "warn")
        severity = "error" if policy == "fail" else "warn"
        if facts.rows or policy == "allow":
            return self._result(True, f"{facts.rows} rows (zero-row policy {policy})", severity, rows=facts.rows)
        return self._result(False, f"the run landed no rows (zero-row policy {policy})", severity, rows=0)


class _RowCountAnomaly(_Accumulator):
    def result(self, facts: RunFacts) -> CheckResult:
        lookback = int(self.check.params.get("lookback_runs", 10))
        minimum = int(self.check.params.get("min_history", 3))
        tolerance = float(self.check.params.get("tolerance", 0.5))
        history = list(facts.recent_rows)[:lookback]
        if len(history) < minimum:
            return self._result(True, f"{len(history)} earlier run(s), {minimum} needed to judge", history=history)
        median = statistics.median(history)
        low, high = median * (1 - tolerance), median * (1 + tolerance)
        ok = low <= facts.rows <= high
        return self._result(
            ok,
            f"{facts.rows} rows vs median {median:g} of the last {len(history)} run(s) "
            f"({'within' if ok else 'outside'} [{low:g}, {high:g}])",
            rows=facts.rows,
            median=median,
        )


_ACCUMULATORS: dict[str, type[_Accumulator]] = {
    "not_null": _NotNull,
    "unique": _Unique,
    "accepted_values": _AcceptedValues,
    "range": _Range,
    "regex": _Regex,
    "freshness": _Freshness,
    "row_count": _RowCount,
    "zero_rows": _ZeroRows,
    "row_count_anomaly": _RowCountAnomaly,
}


class ContentChecks:
    """The entity's content checks (reconciliation runs elsewhere: it needs the source)."""

    def __init__(
        self, checks: Sequence[Check], cursor_column: str | None = None, pii_columns: Collection[str] = ()
    ) -> None:
        """`pii_columns`: the entity's columns marked pii; their values are never quoted in a result. (The config
        already refuses value checks on masked columns; this holds whatever the landed values are.)"""
        self.accumulators = [_ACCUMULATORS[c.kind](c, cursor_column) for c in checks if c.kind in _ACCUMULATORS]
        for accumulator in self.accumulators:
            accumulator.quote_values = not set(accumulator.columns).intersection(pii_columns)

    @property
    def columns(self) -> list[str]:
        """The columns to read from the landed files (none when no check looks at values)."""
        return sorted({name for acc in self.accumulators for name in acc.columns})

    def update(self, batch: pa.RecordBatch) -> None:
        for accumulator in self.accumulators:
            accumulator.update(batch)

    def results(self, facts: RunFacts) -> list[CheckResult]:
        return [accumulator.result(facts) for accumulator in self.accumulators]
