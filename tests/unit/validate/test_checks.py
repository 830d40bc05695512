"""Content checks over Arrow batches: each kind passes on good data and fails, with a useful detail, on bad."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from ingestion.config.models import Check
from ingestion.validate.checks import ContentChecks, RunFacts

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("code", pa.string()),
        ("status", pa.string()),
        ("amount", pa.decimal128(12, 2)),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _batches(rows: list[dict[str, Any]], size: int = 2) -> list[pa.RecordBatch]:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    return table.to_batches(max_chunksize=size)


GOOD = [
    {"id": i, "code": f"A{i}", "status": "paid", "amount": Decimal("10.00"), "updated_at": NOW - timedelta(hours=i)}
    for i in range(1, 6)
]


def _run(check: dict[str, Any], rows: list[dict[str, Any]], **facts: Any) -> Any:
    checks = ContentChecks([Check(**check)], cursor_column="updated_at")
    for batch in _batches(rows):
        checks.update(batch.select(checks.columns) if checks.columns else batch)
    (result,) = checks.results(RunFacts(rows=len(rows), now=NOW, **facts))
    return result


def _with(**changes: Any) -> list[dict[str, Any]]:
    rows = [dict(r) for r in GOOD]
    for index, values in changes.items():
        rows[int(index[1:])].update(values)
    return rows


@pytest.mark.parametrize(
    ("check", "bad_rows", "detail"),
    [
        ({"kind": "not_null", "columns": ["code", "status"]}, _with(r1={"code": None}), "code: 1 NULL(s)"),
        ({"kind": "unique", "columns": ["id"]}, _with(r3={"id": 1}), "1 key value(s) appear more than once"),
        ({"kind": "unique", "columns": ["id", "code"]}, _with(r4={"id": 1, "code": "A1"}), "(1 extra row(s))"),
        (
            {"kind": "accepted_values", "columns": ["status"], "params": {"values": ["paid", "new"]}},
            _with(r2={"status": "lost"}),
            "1 value(s) of status not in ['paid', 'new']; first at landed row(s) [3]; e.g. ['lost']",
        ),
        (
            {"kind": "range", "columns": ["amount"], "params": {"min": 0, "max": "100.50"}},
            _with(r0={"amount": Decimal("-1.00")}, r1={"amount": Decimal("100.51")}),
            "2 value(s) of amount not within [0, 100.50]",
        ),
        (
            {"kind": "range", "columns": ["updated_at"], "params": {"min": "2026-11-01T00:00:00Z"}},
            _with(r0={"updated_at": datetime(2026, 10, 1, tzinfo=UTC)}),
            "1 value(s) of updated_at not within",
        ),
        (
            {"kind": "regex", "columns": ["code"], "params": {"pattern": "^A[0-9]+$"}},
            _with(r2={"code": "b2"}),
            "e.g. ['b2']",
        ),
        ({"kind": "freshness", "params": {"max_age_minutes": 90}}, [], "no value of updated_at"),
        ({"kind": "row_count", "params": {"min": 6}}, GOOD, "5 rows, expected [6, +inf]"),
        ({"kind": "zero_rows"}, [], "the run landed no rows (zero-row policy fail)"),
    ],
)
def test_each_kind_passes_good_rows_and_fails_bad_ones(check: dict[str, Any], bad_rows: Any, detail: str) -> None:
    if check["kind"] != "row_count":
        assert _run(check, GOOD).passed, _run(check, GOOD).detail
    result = _run(check, bad_rows)
    assert not result.passed
    assert detail in result.detail
    assert result.severity == "error"


def test_a_failed_value_check_names_rows_across_batches_and_quotes_no_pii_value() -> None:
    rows = _with(r1={"code": "ana.canary@example.com"}, r4={"code": "+49 151 0000 canary"})
    check = Check(kind="regex", columns=("code",), params={"pattern": "^A[0-9]+$"})
    for pii_columns, quoted in (((), True), (("code",), False)):
        checks = ContentChecks([check], cursor_column="updated_at", pii_columns=pii_columns)
        for batch in _batches(rows):  # batches of 2: rows 2 and 5 are in the first and the third
            checks.update(batch.select(checks.columns))
        (result,) = checks.results(RunFacts(rows=len(rows), now=NOW))
        assert not result.passed
        assert "first at landed row(s) [2, 5]" in result.detail
        assert result.observed["rows"] == [2, 5]
        assert ("canary" in repr(result.as_dict())) is quoted, result


def test_duplicate_keys_of_a_pii_column_are_shown_as_digests() -> None:
    checks = ContentChecks([Check(kind="unique", columns=("id",))], pii_columns=("id",))
    for batch in _batches(_with(r3={"id": 1})):
        checks.update(batch.select(checks.columns))
    (result,) = checks.results(RunFacts(rows=5, now=NOW))
    assert "digest " in result.detail
    assert "[1]" not in result.detail


def test_nulls_are_neither_violations_nor_duplicates() -> None:
    rows = _with(r1={"status": None, "id": None}, r2={"id": None})
    assert _run({"kind": "accepted_values", "columns": ["status"], "params": {"values": ["paid"]}}, rows).passed
    assert _run({"kind": "unique", "columns": ["id"]}, rows).passed


def test_composite_keys_tell_null_from_empty() -> None:
    rows = _with(r1={"id": 1, "code": None}, r2={"id": 1, "code": ""})
    assert _run({"kind": "unique", "columns": ["id", "code"]}, rows[1:3]).passed


def test_freshness_uses_the_newest_value_or_the_previous_high() -> None:
    check = {"kind": "freshness", "params": {"max_age_minutes": 90}}
    assert _run(check, GOOD).passed  # newest is one hour old
    stale = _run({"kind": "freshness", "params": {"max_age_minutes": 30}}, GOOD)
    assert not stale.passed
    assert "over 0:30:00" in stale.detail
    assert _run(check, [], previous_high=NOW - timedelta(minutes=10)).passed


def test_zero_rows_policy_sets_the_outcome() -> None:
    warn = _run({"kind": "zero_rows", "params": {"policy": "warn"}}, [])
    assert (warn.passed, warn.severity) == (False, "warn")
    assert _run({"kind": "zero_rows", "params": {"policy": "allow"}}, []).passed


def test_row_count_anomaly_against_recent_runs() -> None:
    check = {"kind": "row_count_anomaly", "severity": "warn", "params": {"tolerance": 0.5}}
    assert _run(check, GOOD, recent_rows=[100]).passed  # too little history to judge
    anomaly = _run(check, GOOD, recent_rows=[100, 90, 110, 95])
    assert not anomaly.passed
    assert "outside [48.75, 146.25]" in anomaly.detail
    assert _run(check, GOOD, recent_rows=[5, 6, 4]).passed


def test_only_the_named_columns_are_read() -> None:
    checks = ContentChecks(
        [Check(kind="not_null", columns=("code",)), Check(kind="row_count", params={"min": 1})], cursor_column=None
    )
    assert checks.columns == ["code"]


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"kind": "accepted_values", "columns": ["a"]}, "needs params.values"),
        ({"kind": "range", "columns": ["a"]}, "needs params.min and/or params.max"),
        ({"kind": "regex", "columns": ["a"], "params": {"pattern": "("}}, "does not compile"),
        ({"kind": "unique"}, "takes 1 to any column(s), got 0"),
        ({"kind": "freshness", "params": {"max_age_minutes": "soon"}}, "positive number"),
        ({"kind": "zero_rows", "params": {"policy": "maybe"}}, "allow, warn, fail"),
    ],
)
def test_bad_check_configs_are_refused_with_the_reason(check: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Check(**check)
