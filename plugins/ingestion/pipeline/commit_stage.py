"""commit: in one control-database transaction, record the run and move the watermark (see ControlStore.commit_run).

Runs only after extract_land, validate and publish succeeded (the DAG's edges). Backfill runs are recorded but never
move the live watermark. For file sources the loaded files join the processed-file list in the same transaction, and
are then archived on the server when the config says so. The counts returned here also go on the entity's Asset event.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ingestion.errors import IngestionError, NotRetriableError
from ingestion.pipeline.run_guard import moves_watermark

if TYPE_CHECKING:
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


class StageResultMissingError(IngestionError):
    """A stage before commit left no result: it did not run for this run."""


class CommitConflictError(NotRetriableError):
    """The watermark was moved after the run read it; the run has published, so it cannot simply start again."""


def _conflict(plan: EntityPlan, run: RunInfo, landed: dict[str, Any]) -> CommitConflictError:
    from ingestion.state.store import open_control_store

    with open_control_store() as store:
        mark = store.get_watermark(plan.source, plan.entity.name)
    live = mark.value if mark is not None else None
    source, entity, start = plan.source, plan.entity.name, landed.get("watermark_from")
    put_back = (
        f"`scripts/ingest watermark set {source} {entity} '{start}' --reason '...'`"
        if start is not None
        else f"`scripts/ingest watermark reset {source} {entity} --reason '...'`"
    )
    return CommitConflictError(
        f"{source}.{entity} run {run.run_id}: the watermark is {live!r}, but this run read its window from "
        f"{start!r}: it was moved since (see `scripts/ingest watermark history {source} {entity}`). The run's "
        f"{landed['rows']} row(s) up to {landed.get('watermark_to')!r} are in Kafka already; nothing was committed "
        f"and the watermark was not touched. To commit this run, put the watermark back where the run started, "
        f"{put_back}, then clear only this run's commit task; set the watermark again afterwards if you meant to "
        "move it. Clearing from extract_land re-uses the same landing and changes nothing"
    )


def _kafka_reconciliation(landed: dict[str, Any], published: dict[str, Any]) -> dict[str, Any]:
    """The last leg of reconciliation, as a check result on the run record: committed to Kafka == landed."""
    rows = published["rows_published"]
    how = "published before" if published.get("already_published") else "committed in the run's transaction"
    return {
        "name": "reconciliation_kafka",
        "kind": "reconciliation",
        "passed": True,  # a mismatch never gets here: publish aborts, and commit refuses above
        "severity": "error",
        "detail": f"landed {landed['rows']} = {rows} message(s) {how}",
        "observed": {"landed": landed["rows"], "kafka": rows},
    }


def commit_run(
    plan: EntityPlan,
    run: RunInfo,
    *,
    landed: dict[str, Any] | None,
    validated: dict[str, Any] | None,
    published: dict[str, Any] | None,
) -> dict[str, Any]:
    from ingestion.state.store import RunRecord, open_control_store

    for stage, result in (("extract_land", landed), ("validate", validated), ("publish", published)):
        if not result:
            raise StageResultMissingError(
                f"{plan.source}.{plan.entity.name}: no result from {stage} for run {run.run_id}; clear the entity's "
                "tasks from extract_land to re-run them"
            )
    assert landed is not None
    assert validated is not None
    assert published is not None
    if not published.get("already_published") and published["rows_published"] != landed["rows"]:
        raise IngestionError(
            f"{plan.source}.{plan.entity.name}: published {published['rows_published']} != landed {landed['rows']}"
        )
    record = RunRecord(
        source=plan.source,
        entity=plan.entity.name,
        run_id=run.run_id,
        dag_id=run.dag_id,
        load_mode=plan.entity.load.mode,
        try_number=run.try_number,
        window_start=landed.get("window_start"),
        window_end=landed.get("window_end"),
        rows_extracted=landed["rows"],
        rows_landed=landed["rows"],
        rows_published=published["rows_published"],
        bytes_landed=landed["bytes"],
        seconds_extract_land=landed.get("seconds"),
        seconds_validate=validated.get("seconds"),
        seconds_publish=published.get("seconds"),
        files=list(landed["files"]),
        check_results=[*validated.get("checks", []), _kafka_reconciliation(landed, published)],
    )
    from ingestion.state.store import WatermarkConflictError

    move = moves_watermark(plan, run)
    try:
        with open_control_store() as store:
            outcome = store.commit_run(
                record,
                new_watermark=landed.get("watermark_to"),
                value_type=landed.get("watermark_type") or "timestamp",
                expected_watermark=landed.get("watermark_from"),
                move_watermark=move,
                files_loaded=landed.get("files_loaded"),
            )
    except WatermarkConflictError:
        raise _conflict(plan, run, landed) from None
    archived: list[str] = []
    if landed.get("files_loaded") and not landed.get("already_committed"):
        from ingestion.pipeline.sftp_extract_land import archive_loaded_files

        archived = archive_loaded_files(plan, landed["files_loaded"])
    log.info(
        "%s.%s run %s: %s; watermark %s",
        plan.source,
        plan.entity.name,
        run.run_id,
        outcome.value,
        f"{landed.get('watermark_from')} -> {landed.get('watermark_to')}" if move else "not moved",
    )
    return {
        "outcome": outcome.value,
        "rows_landed": record.rows_landed,
        "rows_published": record.rows_published,
        "bytes_landed": record.bytes_landed,
        "window": landed.get("window"),
        "watermark": landed.get("watermark_to") if move else None,
        "moved_watermark": move,
        "run_id": run.run_id,
        **({"archived": archived} if archived else {}),
    }
