"""`ingest_retention`: once a day, archive and delete the landing zone's partitions past their configs' retention
(`retention.raw_days`, `archive_days`, `sensitive_days`, `quarantine_days`), never a partition holding a run that is
not committed nor an entity's newest committed one, and delete the control DB's rows past `retention.control_days`.
Every change is recorded in the control database (`ingest_retention_action`) and the task's log lists each one and
sums them up. `scripts/ingest retention --dry-run` prints what it would do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

RETENTION_DAG_ID = "ingest_retention"


def run_daily_retention(retention_run: str, today: datetime | None = None) -> dict[str, int]:
    from ingestion.land.retention_plan import ActionKind
    from ingestion.retention import run_retention
    from ingestion.state.store import open_control_store

    with open_control_store() as store:
        day = (today or datetime.now(UTC)).date()
        run = run_retention(store.engine, apply=True, today=day, retention_run=retention_run)
    actions = run.plan.actions
    return {
        "archived": sum(a.kind is ActionKind.ARCHIVE for a in actions),
        "deleted": sum(a.kind is ActionKind.DELETE for a in actions),
        "bytes": sum(a.bytes for a in actions),
        "held": len(run.plan.held),
        "rows_pruned": sum(r.rows for r in run.rows),
    }


@task(task_id="apply_retention")
def apply_retention(**context: Any) -> dict[str, int]:
    # "today" is the run's logical day, so a re-run of a past day's run acts as that day did, never further.
    logical = context.get("logical_date") or context.get("run_after")
    return run_daily_retention(str(context["run_id"]), logical)


def build_retention_dag() -> DAG:
    with DAG(
        dag_id=RETENTION_DAG_ID,
        description="Archive and delete landed partitions past their retention; every change recorded",
        schedule="30 2 * * *",
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["platform", "retention"],
        default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(minutes=10)},
        doc_md=__doc__,
    ) as dag:
        apply_retention()
    return dag
