"""The kinds of source under the extract_land driver: one module each, `source_for` picks the entity's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import Source
    from ingestion.planner import EntityPlan


def source_for(plan: EntityPlan, run: RunInfo) -> Source:
    """The entity's source for one run (nothing is opened yet)."""
    kind = plan.entity.locator.kind
    if kind == "http":
        from ingestion.pipeline.sources.rest_source import RestSource

        return RestSource(plan, run)
    if kind == "sftp":
        from ingestion.pipeline.sources.sftp_source import SftpSource

        return SftpSource(plan, run)
    from ingestion.pipeline.sources.sql_source import SqlSource

    return SqlSource(plan, run)
