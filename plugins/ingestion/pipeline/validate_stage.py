"""validate: what a run landed, checked before anything is published.

1. Structure: each file the manifest lists exists with its size and row count (Parquet footer, by byte range) and
   the schema the run should have landed (declared or evolved columns, masked as strings, dropped ones absent,
   plus lineage). Schema drift that extract_land let through (`warn`, `evolve`) is reported as a `warn` result.
2. Content: the entity's checks (not_null, unique, accepted_values, range, regex, freshness, row_count, zero_rows,
   row_count_anomaly), in one streaming pass over only the columns they name.
3. Reconciliation: the source's count for the run's window against the landed rows (publish and commit then hold
   Kafka's count to the landed one). For SQL a COUNT over the window, taken by extract_land in the snapshot it read
   (Postgres, MySQL/MariaDB; other dialects count at validate time), which must equal landed + left out at the
   boundary (rows tied with the watermark that the previous run landed); `late_rows` then counts the window again
   and fails when rows were committed into it after the read. For REST and files the records seen, which must
   equal landed + quarantined + outside the window + left out at the boundary. Quarantined records are a `warn`
   result naming the file.

Every result is stored in the control database (passed or not) and logged; an `error` result fails the task, so
nothing is published or committed; `warn` results go on with the run and to alerting. A run committed before is
not validated again: its recorded results are returned.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ingestion.pipeline.errors import ValidationFailedError

if TYPE_CHECKING:
    from ingestion.land.lake_api import LakeContainer
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.pipeline.contracts import ValidatedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.state.store import CommittedRunRecord, ControlStore
    from ingestion.validate.check_result import CheckResult

log = logging.getLogger(__name__)


def structure_result(plan: EntityPlan, lake: LakeContainer, manifest: LandingManifest) -> CheckResult:
    import pyarrow.parquet as pq

    from ingestion.land.blob_reader import BlobRangeReader
    from ingestion.land.parquet_lander import schema_fingerprint, with_lineage
    from ingestion.pii.masking import entity_general_schema
    from ingestion.pipeline.landed_run import landed_columns
    from ingestion.validate.check_result import CheckResult

    expected = with_lineage(entity_general_schema(plan.entity, landed_columns(plan, manifest)))
    problems: list[str] = []
    if manifest.schema_fingerprint != schema_fingerprint(expected):
        problems.append(f"manifest schema fingerprint {manifest.schema_fingerprint} != the expected one")
    for landed in manifest.files:
        reader = BlobRangeReader(lake.blob(landed.path))
        if reader.size != landed.bytes:
            problems.append(f"{landed.path}: {reader.size} bytes, manifest says {landed.bytes}")
            continue
        metadata = pq.read_metadata(reader)
        if metadata.num_rows != landed.rows:
            problems.append(f"{landed.path}: {metadata.num_rows} rows, manifest says {landed.rows}")
        schema = metadata.schema.to_arrow_schema()
        if not schema.equals(expected):
            problems.append(f"{landed.path}: schema differs from the expected one: {schema} != {expected}")
    total = sum(f.rows for f in manifest.files)
    if total != manifest.rows:
        problems.append(f"files hold {total} rows, manifest says {manifest.rows}")
    detail = "; ".join(problems) or f"{len(manifest.files)} file(s), {manifest.rows} rows, schema as expected"
    return CheckResult("landed_structure", "landed_structure", not problems, "error", detail)


def drift_result(plan: EntityPlan, manifest: LandingManifest) -> CheckResult | None:
    from ingestion.validate.check_result import CheckResult

    drift = manifest.facts.schema_drift
    if drift is None:
        return None
    outcome = "landed the declared columns" if drift.policy == "warn" else "landed the source's columns"
    return CheckResult(
        "schema_drift",
        "schema_drift",
        False,
        "warn",
        f"the source's columns differ from the config ({drift.detail}); schema_drift '{drift.policy}': {outcome}",
        drift.observed(),
    )


def source_count(plan: EntityPlan, manifest: LandingManifest) -> int | None:
    """Rows in the run's window at the source now, or None when the run read nothing (empty window)."""
    from ingestion.extract.sql_engine import source_engine
    from ingestion.extract.sql_query import select_count, source_relation, window_for_dialect

    sql = manifest.facts.sql
    assert sql is not None, "a SQL run's manifest has its window bounds"
    window = sql.window_bounds.window()
    if window.empty:
        return None
    locator = plan.entity.locator
    assert locator.kind == "sql"
    relation = source_relation(table_name=locator.table, schema=locator.schema_name, query=locator.query)
    engine = source_engine(plan.conn_id)
    try:
        statement = select_count(
            relation, plan.entity.load.cursor_column, window_for_dialect(window, engine.dialect.name)
        )
        with engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())
    finally:
        engine.dispose()


def null_cursor_result(plan: EntityPlan, manifest: LandingManifest) -> CheckResult | None:
    """SQL incremental and interval loads read a window of the cursor (`cursor <= high`, and `> low` once there is a
    watermark), which no NULL cursor is in: such rows are never landed, the first run included, while
    reconciliation, counting the same window, balances. A warning while the source holds any; nothing for a cursor
    declared `nullable: false`, or when there are none."""
    from ingestion.extract.sql_engine import source_engine
    from ingestion.extract.sql_query import select_null_cursor_count, source_relation
    from ingestion.validate.check_result import CheckResult

    entity = plan.entity
    cursor = entity.load.cursor_column
    locator = entity.locator
    if locator.kind != "sql" or cursor is None or entity.load.mode not in ("incremental", "interval"):
        return None
    declared = next((c for c in entity.columns if c.name == cursor), None)
    if declared is not None and not declared.nullable:
        return None
    relation = source_relation(table_name=locator.table, schema=locator.schema_name, query=locator.query)
    engine = source_engine(plan.conn_id)
    try:
        with engine.connect() as conn:
            nulls = int(conn.execute(select_null_cursor_count(relation, cursor)).scalar_one())
    finally:
        engine.dispose()
    if not nulls:
        return None
    return CheckResult(
        "null_cursor",
        "reconciliation",
        False,
        "warn",
        f"{nulls} row(s) at the source have a NULL {cursor}: no incremental or interval run reads them (only a full "
        "load does), so they are not loaded; give them a cursor value at the source, or use a cursor column that is "
        "always set (and declare it nullable: false)",
        {"null_cursor_rows": nulls},
    )


def records_reconciliation(manifest: LandingManifest, severity: str) -> CheckResult:
    """REST and file sources: every record received is landed, quarantined, outside the run's window, or left out
    at the boundary (tied with the watermark and landed by the run that set it)."""
    from ingestion.validate.check_result import CheckResult

    facts = manifest.facts
    assert facts.records is not None, "a run of typed records has their counts"
    seen, quarantined, outside = facts.records.records_seen, facts.records.quarantined, facts.records.outside_window
    left_out = facts.left_out_at_boundary or 0
    observed = {"source": seen, "landed": manifest.rows, "quarantined": quarantined, "outside_window": outside}
    if left_out:
        observed["left_out_at_boundary"] = left_out
    tie_text = f" + left out at the boundary {left_out}" if left_out else ""
    tie_part = f", left out at the boundary {left_out}" if left_out else ""
    accounted = manifest.rows + quarantined + outside + left_out
    if seen == accounted:
        detail = (
            f"records seen {seen} = landed {manifest.rows} + quarantined {quarantined} + outside window {outside}"
            f"{tie_text}"
        )
        return CheckResult("reconciliation", "reconciliation", True, severity, detail, observed)
    return CheckResult(
        "reconciliation",
        "reconciliation",
        False,
        severity,
        f"{seen} record(s) were read from the source but {accounted} are accounted for (landed {manifest.rows}, "
        f"quarantined {quarantined}, outside window {outside}{tie_part}): records were lost; re-run extract_land",
        observed,
    )


def quarantine_result(manifest: LandingManifest) -> CheckResult | None:
    """Records that did not fit the config are not lost, but someone must look at them: a warning with the file."""
    from ingestion.validate.check_result import CheckResult

    records = manifest.facts.records
    if records is None:
        return None
    count = records.quarantined
    if not count:
        return CheckResult("quarantine", "quarantine", True, "warn", "no record quarantined", {"quarantined": 0})
    path = records.quarantine_file
    return CheckResult(
        "quarantine",
        "quarantine",
        False,
        "warn",
        f"{count} record(s) did not fit the declared columns and were quarantined to {path}",
        {"quarantined": count, "file": path},
    )


def _reconciliation_severity(plan: EntityPlan) -> str:
    declared = [c for c in plan.entity.checks if c.kind == "reconciliation"]
    return declared[0].severity if declared else "error"


def reconciliation_result(plan: EntityPlan, manifest: LandingManifest) -> CheckResult | None:
    """SQL: the window's count against the rows landed plus the rows left out at the boundary (tied with the
    watermark and landed by the run that set it). The count is the one extract_land took in the read's own snapshot
    (Postgres, MySQL/MariaDB), so a table that changes during or after the run still balances; other dialects have
    none, and the window is counted at the source now (rows changed since the read then fail it)."""
    from ingestion.validate.check_result import CheckResult

    severity = _reconciliation_severity(plan)
    facts = manifest.facts
    if facts.records is not None:
        return records_reconciliation(manifest, severity)
    if plan.entity.locator.kind != "sql" or facts.sql is None:
        return None
    counted = facts.sql.source_count
    where = "in the read's snapshot"
    if counted is None:
        counted, where = source_count(plan, manifest), "at the source now"
    if counted is None:
        return CheckResult("reconciliation", "reconciliation", True, severity, "nothing new at the source", {})
    left_out = facts.left_out_at_boundary or 0
    observed = {"source": counted, "landed": manifest.rows, "left_out_at_boundary": left_out}
    accounted = manifest.rows + left_out
    tie_text = f" + {left_out} left out at the boundary (landed by the run that set the watermark)" if left_out else ""
    if counted == accounted:
        return CheckResult(
            "reconciliation",
            "reconciliation",
            True,
            severity,
            f"source {counted} (counted {where}) = landed {manifest.rows}{tie_text}",
            observed,
        )
    return CheckResult(
        "reconciliation",
        "reconciliation",
        False,
        severity,
        f"the source holds {counted} row(s) in the run's window (counted {where}), {manifest.rows} were landed"
        f"{tie_text}: rows changed at the source during the run, or were lost; re-run extract_land to read the "
        "window again",
        observed,
    )


def late_rows_result(plan: EntityPlan, manifest: LandingManifest) -> CheckResult | None:
    """Rows committed into a closed window after extract_land read it: the window counted now holds more rows than
    it did in the read's snapshot. A later run starts above the window, so they are lost unless a lookback covers
    them (then a warning) or extract_land reads the window again. Rows that left the window since (updated to a
    newer cursor) are not counted against it: they are read again at their new value. Only for windows counted in
    a snapshot (elsewhere reconciliation itself counts now), and not for full loads, whose next run reads them."""
    from ingestion.validate.check_result import CheckResult

    sql = manifest.facts.sql
    counted = sql.source_count if sql is not None else None
    if sql is None or counted is None or sql.window_bounds.mode not in ("incremental", "interval"):
        return None
    bounds = sql.window_bounds
    if bounds.empty:
        return None
    now = source_count(plan, manifest)
    if now is None:
        return None
    observed = {"read": counted, "now": now}
    if now <= counted:
        detail = f"no row arrived in the window after it was read ({counted} then, {now} now)"
        return CheckResult("late_rows", "reconciliation", True, "warn", detail, observed)
    load = plan.entity.load
    covered = bounds.mode == "incremental" and bool(load.lookback_minutes or load.lookback_ids)
    severity = "warn" if covered else _reconciliation_severity(plan)
    outcome = (
        "the next run's lookback re-reads them if it reaches that far"
        if covered
        else "no later run reads them: re-run extract_land to read the window again, or widen the safety margin"
    )
    return CheckResult(
        "late_rows",
        "reconciliation",
        False,
        severity,
        f"{now - counted} row(s) arrived in the run's window after extract_land read it ({counted} then, {now} now): "
        f"they were committed late; {outcome}",
        observed,
    )


def content_results(
    plan: EntityPlan, run: RunInfo, lake: LakeContainer, manifest: LandingManifest, store: ControlStore
) -> list[CheckResult]:
    from ingestion.pipeline.landed_run import landed_batches
    from ingestion.state import watermark_values
    from ingestion.validate.checks import ContentChecks, RunFacts

    # A second guard: the loader refuses value checks on masked columns, and details never quote a PII column.
    pii_columns = [c.name for c in plan.entity.columns if c.pii]
    checks = ContentChecks(plan.entity.checks, plan.entity.load.cursor_column, pii_columns=pii_columns)
    if not checks.accumulators:
        return []
    if checks.columns and manifest.rows:
        read = 0
        for batch in landed_batches(lake, manifest, checks.columns):
            checks.update(batch)
            read += batch.num_rows
            if read % 1_000_000 < batch.num_rows:
                log.info("%s.%s: checked %d of %d rows", plan.source, plan.entity.name, read, manifest.rows)
    landed = manifest.facts
    facts = RunFacts(
        rows=manifest.rows,
        now=datetime.now(UTC),
        cursor_column=plan.entity.load.cursor_column,
        previous_high=watermark_values.decode(landed.watermark_from, landed.watermark_type or "string"),
        recent_rows=store.recent_row_counts(plan.source, plan.entity.name, before_run=run.run_id),
    )
    return checks.results(facts)


def _committed_results(plan: EntityPlan, run: RunInfo, committed: CommittedRunRecord) -> ValidatedRun:
    from ingestion.pipeline.contracts import ValidatedRun, check_from_json

    log.info(
        "%s.%s run %s was committed before: returning its recorded checks", plan.source, plan.entity.name, run.run_id
    )
    checks = tuple(check_from_json(c, f"run record check {i}") for i, c in enumerate(committed.check_results))
    return ValidatedRun(rows=committed.rows_landed, checks=checks, warnings=0, seconds=0.0)


def validate_run(plan: EntityPlan, run: RunInfo, *, storage: StageStorage | None = None) -> ValidatedRun:
    """Check what the run landed (see the module docstring); raises ValidationFailedError on an `error` failure."""
    from ingestion.pipeline.contracts import ValidatedRun
    from ingestion.pipeline.landed_run import read_run_manifest
    from ingestion.pipeline.partitioned_run import assemble_partitions
    from ingestion.pipeline.storage import StageStorage

    storage = storage or StageStorage.of(plan)
    started = time.monotonic()
    with storage.control_store() as store:
        committed = store.committed_run(plan.source, plan.entity.name, run.run_id)
        if committed is not None:
            return _committed_results(plan, run, committed)
        lake = storage.landing(plan)
        assemble_partitions(plan, run, storage)  # a partitioned run's manifest, from its partitions' (or nothing)
        manifest = read_run_manifest(plan, run, lake)
        results = [structure_result(plan, lake, manifest)]
        if results[0].passed:  # content and counts mean nothing over files that are not what they claim
            more = (
                drift_result(plan, manifest),
                reconciliation_result(plan, manifest),
                late_rows_result(plan, manifest),
                null_cursor_result(plan, manifest),
                quarantine_result(manifest),
            )
            results += [r for r in more if r]
            results += content_results(plan, run, lake, manifest, store)
        store.record_checks(plan.source, plan.entity.name, run.run_id, run.try_number, [r.as_dict() for r in results])
    for result in results:
        level = logging.INFO if result.passed else (logging.ERROR if result.severity == "error" else logging.WARNING)
        log.log(
            level,
            "check %s [%s]: %s: %s",
            result.name,
            result.severity,
            "pass" if result.passed else "FAIL",
            result.detail,
        )
    failed = [r for r in results if not r.passed and r.severity == "error"]
    warnings = [r for r in results if not r.passed and r.severity == "warn"]
    log.info(
        "%s.%s: %d check(s), %d failed, %d warning(s)",
        plan.source,
        plan.entity.name,
        len(results),
        len(failed),
        len(warnings),
    )
    if failed:
        raise ValidationFailedError(
            f"{plan.source}.{plan.entity.name}: failed check(s): " + "; ".join(f"{r.name}: {r.detail}" for r in failed),
            failed_kinds=tuple(r.kind for r in failed),
        )
    return ValidatedRun(
        rows=manifest.rows,
        checks=tuple(results),
        warnings=len(warnings),
        seconds=round(time.monotonic() - started, 3),
    )
