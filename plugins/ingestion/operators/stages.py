"""The four stage operators of an entity: extract_land -> validate -> publish -> commit.

Thin on purpose: `__init__` only stores names, so building 1,000 DAGs stays cheap. At execute time the operator
re-reads its source's config (only that one file), plans the entity and resolves hooks; the DAG the worker just
parsed came from the same file, so both agree. Stage bodies live in ingestion.pipeline; a stage not implemented
yet for a kind of source raises StageNotImplementedError, which fails the task (never a silent success).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from ingestion.planner import EntityPlan


class EntityStageOperator(BaseOperator):
    """One stage of one entity of one source. Subclasses name their stage and implement `run_stage`."""

    stage: ClassVar[str] = ""
    template_fields: Sequence[str] = ("source_name", "entity_name")

    def __init__(self, *, source_name: str, entity_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_name = source_name
        self.entity_name = entity_name

    def execute(self, context: Context) -> Any:
        from ingestion.factory import load_entity_plan

        plan = load_entity_plan(self.source_name, self.entity_name)
        return self.run_stage(plan, context)

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
        if plan.entity.locator.kind != "sql":
            return super().run_stage(plan, context)
        from ingestion.pipeline.run_info import RunInfo
        from ingestion.pipeline.sql_extract_land import extract_land

        return extract_land(plan, RunInfo.from_context(context))


class ValidateOperator(EntityStageOperator):
    """Checks the landed files' structure and content against the config; `error` checks fail the task."""

    stage = "validate"
    ui_color = "#fdebd0"


class PublishOperator(EntityStageOperator):
    """Produces the landed rows to the entity's Kafka topic in one transaction."""

    stage = "publish"
    ui_color = "#e8daef"


class CommitOperator(EntityStageOperator):
    """Moves the watermark and writes the run record in one control-DB transaction; emits the entity's Asset."""

    stage = "commit"
    ui_color = "#d5f5e3"
