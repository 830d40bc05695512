"""commit: in one control-database transaction, record the run and move the watermark (see ControlStore.commit_run).

Runs only after extract_land, validate and publish succeeded (the DAG's edges). Backfill runs are recorded but never
move the live watermark. For file sources the loaded files join the processed-file list in the same transaction, and
are then archived on the server when the config says so. The counts returned here also go on the entity's Asset event.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ingestion.pipeline.errors import CommitConflictError, CountMismatchError, StageResultMissingError
from ingestion.pipeline.run_guard import moves_watermark

if TYPE_CHECKING:
    from ingestion.pipeline.contracts import CommittedRun, LandedRun, PublishedRun, ValidatedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import Source
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.validate.check_result import CheckResult

log = logging.getLogger(__name__)


def _conflict(plan: EntityPlan, run: RunInfo, landed: LandedRun, storage: StageStorage) -> CommitConflictError:
    with storage.control_store() as store:
        mark = store.get_watermark(plan.source, plan.entity.name)
    live = mark.value if mark is not None else None
    source, entity, start = plan.source, plan.entity.name, landed.watermark_from
    put_back = (
        f"`scripts/ingest watermark set {source} {entity} '{start}' --reason '...'`"
        if start is not None
        else f"`scripts/ingest watermark reset {source} {entity} --reason '...'`"
    )
    return CommitConflictError(
        f"{source}.{entity} run {run.run_id}: the watermark is {live!r}, but this run read its window from "
        f"{start!r}: it was moved since (see `scripts/ingest watermark history {source} {entity}`). The run's "
        f"{landed.rows} row(s) up to {landed.watermark_to!r} are in Kafka already; nothing was committed "
        f"and the watermark was not touched. To commit this run, put the watermark back where the run started, "
        f"{put_back}, then clear only this run's commit task; set the watermark again afterwards if you meant to "
        "move it. Clearing from extract_land re-uses the same landing and changes nothing"
    )


def _committed(plan: EntityPlan, run: RunInfo, storage: StageStorage) -> bool:
    with storage.control_store() as store:
        return store.committed_run(plan.source, plan.entity.name, run.run_id) is not None


def _kafka_reconciliation(landed: LandedRun, published: PublishedRun) -> CheckResult:
    """The last leg of reconciliation, as a check result on the run record: committed to Kafka == landed."""
    from ingestion.validate.check_result import CheckResult

    how = "published before" if published.already_published else "committed in the run's transaction"
    return CheckResult(
        name="reconciliation_kafka",
        kind="reconciliation",
        passed=True,  # a mismatch never gets here: publish aborts, and commit refuses above
        severity="error",
        detail=f"landed {landed.rows} = {published.rows} message(s) {how}",
        observed={"landed": landed.rows, "kafka": published.rows},
    )


def commit_run(
    plan: EntityPlan,
    run: RunInfo,
    *,
    landed: LandedRun | None,
    validated: ValidatedRun | None,
    published: PublishedRun | None,
    storage: StageStorage | None = None,
    source: Source | None = None,
) -> CommittedRun:
    """Record the run and move the watermark in one transaction, then the source's action after commit (e.g. the
    SFTP archive move). `source` defaults to the entity's kind of source."""
    from ingestion.pipeline.contracts import CommittedRun
    from ingestion.pipeline.sources import source_for
    from ingestion.pipeline.storage import StageStorage
    from ingestion.state.errors import WatermarkConflictError
    from ingestion.state.store import RunRecord

    for stage, result in (("extract_land", landed), ("validate", validated), ("publish", published)):
        if result is None:
            raise StageResultMissingError(
                f"{plan.source}.{plan.entity.name}: no result from {stage} for run {run.run_id}; clear the entity's "
                "tasks from extract_land to re-run them"
            )
    assert landed is not None
    assert validated is not None
    assert published is not None
    storage = storage or StageStorage.of(plan)
    # A partitioned run's count is the sum of its publish tasks' (each committed its share, or found it in its own
    # publish log), checked whenever the run is not committed yet; a committed run's commit changes nothing.
    split = plan.entity.load.partitions is not None
    if (
        (split or not published.already_published)
        and published.rows != landed.rows
        and not _committed(plan, run, storage)
    ):
        raise CountMismatchError(
            f"{plan.source}.{plan.entity.name}: published {published.rows} != landed {landed.rows}; nothing was "
            "committed. "
            + (
                "The run's publish tasks' counts do not add up to its landing: clear them all (those published "
                "already publish nothing again) and look at their logs"
                if split
                else "Publish checks this count before its Kafka transaction commits, so this points at a bug in "
                "the platform: keep the run as it is and report it"
            )
        )
    record = RunRecord(
        source=plan.source,
        entity=plan.entity.name,
        run_id=run.run_id,
        dag_id=run.dag_id,
        load_mode=plan.entity.load.mode,
        try_number=run.try_number,
        window_start=landed.window_start,
        window_end=landed.window_end,
        rows_extracted=landed.rows,
        rows_landed=landed.rows,
        rows_published=published.rows,
        bytes_landed=landed.bytes,
        seconds_extract_land=landed.seconds,
        seconds_validate=validated.seconds,
        seconds_publish=published.seconds,
        files=list(landed.files),
        check_results=[c.as_dict() for c in (*validated.checks, _kafka_reconciliation(landed, published))],
    )
    move = moves_watermark(plan, run)
    files_loaded = [f.to_json() for f in landed.files_loaded]
    try:
        with storage.control_store() as store:
            outcome = store.commit_run(
                record,
                new_watermark=landed.watermark_to,
                value_type=landed.watermark_type or "timestamp",
                expected_watermark=landed.watermark_from,
                move_watermark=move,
                files_loaded=files_loaded or None,
            )
    except WatermarkConflictError:
        raise _conflict(plan, run, landed, storage) from None
    archived: tuple[str, ...] = ()
    if not landed.already_committed:
        archived = (source or source_for(plan, run)).after_commit(landed)
    log.info(
        "%s.%s run %s: %s; watermark %s",
        plan.source,
        plan.entity.name,
        run.run_id,
        outcome.value,
        f"{landed.watermark_from} -> {landed.watermark_to}" if move else "not moved",
    )
    return CommittedRun(
        outcome=outcome.value,
        run_id=run.run_id,
        rows_landed=record.rows_landed,
        rows_published=record.rows_published,
        bytes_landed=record.bytes_landed,
        window=landed.window,
        watermark=landed.watermark_to if move else None,
        moved_watermark=move,
        archived=archived,
    )
