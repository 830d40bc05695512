"""The builder: a DagPlan in, an Airflow DAG out. The only module that instantiates operators.

Every decision (ids, edges, retries, tags) was made by the pure planner; this module only translates, and renders
the runbook (the DAG's doc_md) from the same plan.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, CronDataIntervalTimetable, TaskGroup

from ingestion.config.models import NON_PERIODIC_SCHEDULES
from ingestion.notify.notifiers import EntityFailureNotifier
from ingestion.operators import STAGE_OPERATORS
from ingestion.operators.assets import entity_asset
from ingestion.runbook import render_runbook

if TYPE_CHECKING:
    from ingestion.config.oncall import Rotation
    from ingestion.planner import DagPlan, EntityPlan

# No DAG params: `full_refresh` is read from the run conf (see RunInfo). Airflow validates declared params with
# jsonschema at construction and deep-copies them into every task: 1.4 ms per DAG here (bench/README.md).


def _timetable(schedule: str | None) -> Any:
    # Airflow 3 turns a cron string into a CronTriggerTimetable, whose runs have a zero-length data interval.
    # Interval entities read [data_interval_start, data_interval_end) and backfills are made of those windows,
    # so cron schedules get CronDataIntervalTimetable: each run covers the schedule period before it.
    if schedule is None or schedule in NON_PERIODIC_SCHEDULES:
        return schedule
    return CronDataIntervalTimetable(schedule, timezone="UTC")


def _stage_args(stage: str, entity: EntityPlan) -> dict[str, Any]:
    if stage == "extract_land" and entity.waits_for_previous_commit:
        # With depends_on_past alone, run N+1 extracted and published run N's rows again when N's commit failed.
        return {"wait_for_downstream": True}
    if stage == "commit":
        return {"outlets": [entity_asset(entity)]}
    if stage == "publish":
        # One transactional id per entity: a second run's publish would fence the first and fail it (backfills
        # run several runs at once), so an entity publishes one run at a time. A partitioned entity publishes with
        # one transactional id per partition: its tasks of one run go side by side.
        partitions = entity.entity.load.partitions
        return {"max_active_tis_per_dag": partitions.count if partitions is not None else 1}
    return {}


def _stage_task(stage: str, entity: EntityPlan, **kwargs: Any) -> Any:
    """The stage's task; a partitioned entity's extract_land and publish are mapped, one task instance per
    partition (map index = k), so a partition that fails is retried alone."""
    operator = STAGE_OPERATORS[stage]
    partitions = entity.entity.load.partitions
    if stage in ("extract_land", "publish") and partitions is not None:
        return operator.partial(**kwargs).expand(partition=list(range(partitions.count)))
    return operator(**kwargs)


def _task_args(plan: DagPlan) -> dict[str, Any]:
    # Given to each operator directly rather than as default_args, which Airflow deep-copies for every task
    # (0.7 ms per DAG here); the resulting tasks are the same.
    retry = plan.retry
    return {
        "owner": plan.owner,
        "retries": retry.retries,
        "retry_delay": retry.retry_delay,
        "retry_exponential_backoff": retry.backoff_multiplier,
        "max_retry_delay": retry.max_retry_delay,
    }


def finish_by_offset(run_time: tuple[int, int], finish_by: str) -> timedelta:
    """From a daily run's logical date (its data interval start: the previous day at the run time) to the first
    `finish_by` at or after the run's scheduled time (the interval end)."""
    hour, minute = (int(part) for part in finish_by.split(":"))
    after_run = (timedelta(hours=hour, minutes=minute) - timedelta(hours=run_time[0], minutes=run_time[1])) % timedelta(
        days=1
    )
    return timedelta(days=1) + after_run


def _deadlines(plan: DagPlan) -> list[Any] | None:
    """DeadlineAlerts from the config: `expected_duration_minutes` after the run was queued, and `finish_by` (a time
    of day) after the day's scheduled run time. None without either."""
    deadline = plan.config.deadline
    # INGEST_DEADLINES=off leaves deadlines out, for `airflow dags test` only: in 3.3.2 it evaluates none, and a
    # DAG with one makes it crash after the run and roll the run's metadata back (the demo reads that metadata).
    if os.environ.get("INGEST_DEADLINES", "on") == "off":
        return None
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback  # type: ignore[attr-defined]

    from ingestion.config.models import daily_run_time
    from ingestion.notify.deadline import CALLBACK_PATH

    alerts = []
    source = plan.config.name
    if minutes := deadline.expected_duration_minutes:
        alerts.append(
            DeadlineAlert(
                reference=DeadlineReference.DAGRUN_QUEUED_AT,
                interval=timedelta(minutes=minutes),
                callback=SyncCallback(CALLBACK_PATH, kwargs={"source": source, "minutes": minutes}),
            )
        )
    run_time = daily_run_time(plan.schedule)
    if deadline.finish_by and run_time is not None:  # the config refuses finish_by without a daily schedule
        alerts.append(
            DeadlineAlert(
                reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
                interval=finish_by_offset(run_time, deadline.finish_by),
                callback=SyncCallback(CALLBACK_PATH, kwargs={"source": source, "finish_by": deadline.finish_by}),
            )
        )
    return alerts or None


def build_dag(plan: DagPlan, rotation: Rotation | None = None, *, register: bool = True) -> DAG:
    """The DAG of a source's plan; `rotation` is its team's on-call rotation, for the runbook. With `register` false,
    the DAG is not registered with the DAG file being parsed (Airflow collects every DAG a `with` block closes)."""
    with DAG(
        dag_id=plan.dag_id,
        description=plan.description,
        schedule=_timetable(plan.schedule),
        start_date=plan.start_date,
        catchup=plan.catchup,
        tags=set(plan.tags),
        owner_links=plan.owner_links,
        max_active_runs=plan.max_active_runs,
        doc_md=render_runbook(plan, rotation),
        deadline=_deadlines(plan),
        auto_register=register,
    ) as dag:
        task_args = _task_args(plan)
        for entity in plan.entities:
            # One notifier per entity, shared by its stages: it holds names only and reads the config when it fires.
            on_failure = [EntityFailureNotifier(source_name=entity.source, entity_name=entity.entity.name)]
            on_retry = (
                [EntityFailureNotifier(source_name=entity.source, entity_name=entity.entity.name, kind="retry")]
                if entity.alerts.on_retry
                else None
            )
            with TaskGroup(group_id=entity.group_id, tooltip=entity.entity.description):
                tasks = {
                    f"{entity.group_id}.{stage}": _stage_task(
                        stage,
                        entity,
                        task_id=stage,
                        source_name=entity.source,
                        entity_name=entity.entity.name,
                        depends_on_past=entity.depends_on_past,
                        on_failure_callback=on_failure,
                        on_retry_callback=on_retry,
                        **task_args,
                        **_stage_args(stage, entity),
                    )
                    for stage in entity.stages
                }
                for upstream, downstream in entity.edges:
                    tasks[upstream] >> tasks[downstream]
    return dag
