"""Content checks over Arrow batches: each kind passes on good data and fails, with a useful detail, on bad."""

from __future__ import annotations

import re
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
        # A misspelt param was ignored and its default used: policy fail where allow was meant.
        ({"kind": "zero_rows", "params": {"polcy": "allow"}}, "check zero_rows takes params policy, not ['polcy']"),
        ({"kind": "not_null", "columns": ["a"], "params": {"min": 1}}, "check not_null takes no params"),
        ({"kind": "accepted_values", "columns": ["a"], "params": {"values": []}}, "params.values is empty"),
        ({"kind": "range", "columns": ["a"], "params": {"min": 10, "max": 1}}, "params.min 10 is above params.max 1"),
        ({"kind": "range", "columns": ["a"], "params": {"min": [1]}}, "params.min is a number, or text"),
        ({"kind": "row_count", "params": {"min": -5}}, "params.min is a whole number of 0 or more"),
        ({"kind": "row_count", "params": {"max": "x"}}, "params.max is a whole number of 0 or more"),
        ({"kind": "row_count", "params": {"min": 9, "max": 3}}, "params.min 9 is above params.max 3"),
        ({"kind": "row_count_anomaly", "params": {"lookback_runs": 0}}, "params.lookback_runs is a whole number of 1"),
        ({"kind": "row_count_anomaly", "params": {"tolerance": -1}}, "params.tolerance is a number of 0 or more"),
    ],
)
def test_bad_check_configs_are_refused_with_the_reason(check: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Check(**check)


ENTITY: dict[str, Any] = {
    "name": "orders",
    "locator": {"kind": "sql", "table": "orders"},
    "primary_key": ["id"],
    "columns": [
        {"name": "id", "type": "bigint", "nullable": False},
        {"name": "amount", "type": "decimal(12,2)"},
        {"name": "ratio", "type": "double"},
        {"name": "opens", "type": "time"},
        {"name": "day", "type": "date"},
        {"name": "paid", "type": "boolean"},
        {"name": "ref", "type": "uuid"},
        {"name": "updated_at", "type": "timestamp"},
    ],
}


@pytest.mark.parametrize(
    ("check", "message"),
    [
        # Arrow cannot cast "abc" or 0.5 to an integer: validate failed with an Arrow error, run after run.
        ({"kind": "range", "columns": ["id"], "params": {"min": "abc"}}, "'id' (bigint): params.min must be a whole"),
        ({"kind": "range", "columns": ["id"], "params": {"max": 0.5}}, "'id' (bigint): params.max must be a whole"),
        (
            {"kind": "range", "columns": ["amount"], "params": {"min": "ten"}},
            "params.min must be a number, or its text",
        ),
        ({"kind": "range", "columns": ["day"], "params": {"min": "2026-02-30"}}, "ISO-8601 text of a date"),
        ({"kind": "range", "columns": ["updated_at"], "params": {"max": 5}}, "ISO-8601 text of a timestamp"),
        # A uuid is carried as text: a range would compare it character by character.
        ({"kind": "range", "columns": ["ref"], "params": {"min": "a"}}, "range cannot compare uuid values"),
        ({"kind": "range", "columns": ["paid"], "params": {"min": 0}}, "range cannot compare boolean values"),
        ({"kind": "accepted_values", "columns": ["id"], "params": {"values": [1, "two"]}}, "params.values[1] must be"),
        ({"kind": "freshness", "columns": ["day"], "params": {"max_age_minutes": 5}}, "measures a timestamp column"),
    ],
)
def test_check_values_that_cannot_be_compared_with_the_columns_type_are_refused(
    check: dict[str, Any], message: str
) -> None:
    from ingestion.config.models import Entity

    with pytest.raises(ValueError, match=r"checks\[0\]: check .*" + re.escape(message)):
        Entity(**{**ENTITY, "checks": [check]})


def test_check_values_that_fit_their_columns_load_and_a_time_of_day_range_runs() -> None:
    from ingestion.config.models import Entity

    checks = [
        {"kind": "range", "columns": ["id"], "params": {"min": 1, "max": 2.0}},
        {"kind": "range", "columns": ["amount"], "params": {"min": 0, "max": "100.50"}},
        {"kind": "range", "columns": ["ratio"], "params": {"min": -0.5}},
        {"kind": "range", "columns": ["opens"], "params": {"min": "06:00:00", "max": "22:00"}},
        {"kind": "range", "columns": ["day"], "params": {"min": "2026-01-01"}},
        {"kind": "range", "columns": ["updated_at"], "params": {"min": "2026-01-01T00:00:00Z"}},
        {"kind": "accepted_values", "columns": ["paid"], "params": {"values": [True, None]}},
        {"kind": "freshness", "params": {"max_age_minutes": 5}},
        {"kind": "row_count_anomaly", "params": {"lookback_runs": 5, "min_history": 2, "tolerance": 0}},
    ]
    assert (
        len(
            Entity(
                **{**ENTITY, "load": {"mode": "incremental", "cursor_column": "updated_at"}, "checks": checks}
            ).checks
        )
        == 9
    )
    # Arrow cannot cast text to a time of day: the bound is parsed instead (an ArrowNotImplementedError before).
    from datetime import time

    checks_run = ContentChecks([Check(**checks[3])], cursor_column=None)
    checks_run.update(pa.record_batch({"opens": pa.array([time(5, 0), time(7, 0)], type=pa.time64("us"))}))
    (result,) = checks_run.results(RunFacts(rows=2, now=NOW))
    assert "1 value(s) of opens not within [06:00:00, 22:00]" in result.detail
