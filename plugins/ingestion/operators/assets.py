"""The Airflow Asset of an entity: what its commit updates, so downstream DAGs can be scheduled on fresh data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import Asset

if TYPE_CHECKING:
    from ingestion.planner import EntityPlan


def entity_asset(plan: EntityPlan) -> Asset:
    return Asset(
        name=f"ingest.{plan.source}.{plan.entity.name}",
        uri=f"ingest://{plan.source}/{plan.entity.name}",
        group="ingestion",
        extra={"topic": plan.topic, "landing": plan.landing_path_pattern},
    )
