"""The four stage operators of an entity: extract_land -> validate -> publish -> commit.

Thin on purpose: `__init__` only stores names, so building 1,000 DAGs stays cheap. At execute time the operator
re-reads its source's config (only that one file), plans the entity and resolves hooks; the DAG the worker just
parsed came from the same file, so both agree. Stage bodies live in ingestion.pipeline; a stage not implemented
yet for a kind of source raises StageNotImplementedError, which fails the task (never a silent success).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from ingestion.errors import IngestionError
from ingestion.plan_loader import load_entity_plan

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ingestion.pipeline.contracts import LandedRun, PublishedRun
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.planner import EntityPlan

log = logging.getLogger(__name__)


class EntityStageOperator(BaseOperator):
    """One stage of one entity of one source. Subclasses name their stage and implement `run_stage`."""

    stage: ClassVar[str] = ""
    template_fields: Sequence[str] = ("source_name", "entity_name")

    def __init__(self, *, source_name: str, entity_name: str, partition: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_name = source_name
        self.entity_name = entity_name
        # The stages mapped over a partitioned entity's partitions (extract_land, publish) get theirs: that share.
        self.partition = partition

    def run_info(self, context: Context) -> RunInfo:
        from ingestion.pipeline.run_info import RunInfo

        return RunInfo.from_context(context).in_partition(self.partition)

    def execute(self, context: Context) -> Any:
        from ingestion.stage_memory import use_lean_memory

        use_lean_memory()
        try:
            plan = load_entity_plan(self.source_name, self.entity_name)
            return self.run_stage(plan, context)
        except IngestionError as error:
            dag_run = context.get("dag_run")
            error.located(source=self.source_name, entity=self.entity_name, run_id=getattr(dag_run, "run_id", None))
            if not error.terminal:
                raise  # transient: Airflow's retries take over
            from airflow.sdk.exceptions import AirflowFailException

            # Retries would fail the same way and only delay the alert.
            raise AirflowFailException(str(error)) from error

    def run_stage(self, plan: EntityPlan, context: Context) -> Any:
        from ingestion.errors import StageNotImplementedError

        raise StageNotImplementedError(
            f"stage {self.stage!r} for {plan.entity.locator.kind} source {plan.source!r} "
            f"(entity {plan.entity.name!r}) is not implemented yet"
        )


class ExtractLandOperator(EntityStageOperator):
    """Reads the entity's window from the source and lands it as files plus a manifest; returns the manifest."""

    stage = "extract_land"
    ui_color = "#d6eaf8"

    def run_stage(self, plan: EntityPlan, context: Context) -> Any:
        run = self.run_info(context)
        if (reason := backfill_skip_reason(plan, run)) is not None:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(reason)  # skips the entity's later stages too (all_success)
        from ingestion.pipeline.errors import PreviousRunNotCommittedError
        from ingestion.pipeline.extract_driver import extract_land

        try:
            landed = extract_land(plan, run)
        except PreviousRunNotCommittedError as waiting:
            return _wait_for_previous_commit(waiting)
        return landed.to_xcom()  # XCom holds plain JSON: the UI shows it, commit reads it back (LandedRun)


# How often a run whose entity has an earlier run published but not committed looks again (up_for_reschedule):
# Airflow's own wait (wait_for_downstream) does not hold runs without a logical date, such as manual triggers.
PREVIOUS_COMMIT_POKE = timedelta(seconds=30)


def _wait_for_previous_commit(waiting: Exception) -> Any:
    from airflow.sdk.exceptions import AirflowRescheduleException

    log.warning("%s; looking again in %d s", waiting, PREVIOUS_COMMIT_POKE.total_seconds())
    raise AirflowRescheduleException(reschedule_date=datetime.now(UTC) + PREVIOUS_COMMIT_POKE)


def backfill_skip_reason(plan: EntityPlan, run: RunInfo) -> str | None:
    """Backfills reload interval windows only; other entities would reload data under a past run's date."""
    mode = plan.entity.load.mode
    if not run.is_backfill or mode == "interval":
        return None
    how = 'reset its watermark (scripts/ingest watermark reset) or trigger a run with conf {"full_refresh": true}'
    return f"{plan.source}.{plan.entity.name} is a {mode} entity: backfills skip it; to reload it, {how}"


class ValidateOperator(EntityStageOperator):
    """Checks the landed files' structure and content against the config; `error` checks fail the task."""

    stage = "validate"
    ui_color = "#fdebd0"

    def run_stage(self, plan: EntityPlan, context: Context) -> Any:
        from ingestion.notify.notifiers import alert_warnings
        from ingestion.pipeline.run_info import RunInfo
        from ingestion.pipeline.validate_stage import validate_run

        validated = validate_run(plan, RunInfo.from_context(context))
        # An error result fails the task (the failure callback alerts); warnings let the run go on, but are told.
        alert_warnings(plan, context, validated)
        return validated.to_xcom()


class PublishOperator(EntityStageOperator):
    """Produces the landed rows to the entity's Kafka topic in one transaction. Waits while another run that read
    the same window is publishing it, and is skipped, with commit, once that run committed it (superseded)."""

    stage = "publish"
    ui_color = "#e8daef"

    def run_stage(self, plan: EntityPlan, context: Context) -> Any:
        from ingestion.pipeline.errors import PreviousRunNotCommittedError, RunSupersededError
        from ingestion.pipeline.publish_stage import publish_run

        try:
            return publish_run(plan, self.run_info(context)).to_xcom()
        except PreviousRunNotCommittedError as waiting:
            return _wait_for_previous_commit(waiting)
        except RunSupersededError as superseded:
            from airflow.sdk.exceptions import AirflowSkipException

            log.warning("%s", superseded)
            raise AirflowSkipException(str(superseded)) from superseded  # and commit with it (all_success)


class CommitOperator(EntityStageOperator):
    """Moves the watermark and writes the run record in one control-DB transaction; emits the entity's Asset."""

    stage = "commit"
    ui_color = "#d5f5e3"

    def run_stage(self, plan: EntityPlan, context: Context) -> Any:
        from ingestion.operators.assets import entity_asset
        from ingestion.pipeline.commit_stage import commit_run
        from ingestion.pipeline.contracts import LandedRun, PublishedRun, ValidatedRun
        from ingestion.pipeline.run_info import RunInfo

        ti = context["ti"]

        def result_of(stage: str) -> Any:
            return ti.xcom_pull(task_ids=f"{plan.group_id}.{stage}")

        # Typed again from XCom here, and only here; an empty result counts as none (commit says which is missing).
        if plan.entity.load.partitions is not None:
            landed = _partitioned_landing(plan, context)
            published = _partitioned_publish(plan, context)
        else:
            landed = LandedRun.from_xcom(x) if (x := result_of("extract_land")) else None
            published = PublishedRun.from_xcom(x) if (x := result_of("publish")) else None
        validated = ValidatedRun.from_xcom(x) if (x := result_of("validate")) else None
        committed = commit_run(
            plan, RunInfo.from_context(context), landed=landed, validated=validated, published=published
        )
        summary = committed.to_xcom()
        # The Asset event carries the run's counts, so downstream DAGs can see what arrived without a lookup.
        context["outlet_events"][entity_asset(plan)].extra = summary
        _alert_if_long(plan, context, sum(r.seconds for r in (landed, validated, published) if r is not None))
        return summary


def _mapped_results(plan: EntityPlan, context: Context, stage: str) -> list[Any] | None:
    """Every map index's result of a stage mapped over the entity's partitions; None when one is missing (commit
    then says which stage's result is)."""
    partitions = plan.entity.load.partitions
    assert partitions is not None
    results = context["ti"].xcom_pull(task_ids=f"{plan.group_id}.{stage}", map_indexes=list(range(partitions.count)))
    found = [x for x in results or () if x]
    return found if len(found) == partitions.count else None


def _partitioned_publish(plan: EntityPlan, context: Context) -> PublishedRun | None:
    """A run published by one task per partition, as one result (PublishedRun.of_tasks)."""
    from ingestion.pipeline.contracts import PublishedRun

    results = _mapped_results(plan, context, "publish")
    if results is None:
        return None
    return PublishedRun.of_tasks([PublishedRun.from_xcom(x) for x in results])


def _partitioned_landing(plan: EntityPlan, context: Context) -> LandedRun | None:
    """A partitioned run's landing: the run's manifest (validate assembled it), timed by its slowest partition."""
    from ingestion.pipeline.contracts import LandedRun
    from ingestion.pipeline.landed_run import landed_result, read_run_manifest
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.storage import StageStorage

    results = _mapped_results(plan, context, "extract_land")
    if results is None:
        return None
    landed = [LandedRun.from_xcom(x) for x in results]
    run = RunInfo.from_context(context)
    manifest = read_run_manifest(plan, run, StageStorage.of(plan).landing(plan))
    return landed_result(
        plan,
        run,
        manifest,
        seconds=max(r.seconds for r in landed),
        already_committed=all(r.already_committed for r in landed),
        frozen=any(r.frozen for r in landed),
    )


def _alert_if_long(plan: EntityPlan, context: Context, seconds: float) -> None:
    """A run far longer than the entity's recent history is worth a look even when it succeeded."""
    from ingestion.notify.notifiers import alert_long_run
    from ingestion.state.store import open_control_store

    with open_control_store() as store:
        history = store.recent_durations(plan.source, plan.entity.name, before_run=context["dag_run"].run_id)
    alert_long_run(plan, context, seconds, history)
