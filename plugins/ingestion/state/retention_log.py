"""What retention reads of the control database (which runs are committed) and what it writes there: one row per
partition it archived or deleted (`ingest_retention_action`), the record of every change it made to the lake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from ingestion.state.tables import entity_runs, retention_actions

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass(frozen=True)
class RetentionRecord:
    retention_run: str
    action: str
    zone: str
    container: str
    source: str
    entity: str
    partition_day: str  # YYYY-MM-DD, the partition's folder
    location: str  # <container>/<source>/<entity>/.../date=YYYY-MM-DD/
    items: int  # blobs changed, or rows deleted
    bytes: int
    reason: str
    acted_at: datetime | None = None  # set when written


def committed_run_ids(engine: Engine, source: str, entity: str) -> frozenset[str]:
    """The run ids of the entity's committed runs."""
    query = select(entity_runs.c.run_id).where(entity_runs.c.source == source, entity_runs.c.entity == entity)
    with engine.connect() as conn:
        return frozenset(run_id for (run_id,) in conn.execute(query))


def record_action(engine: Engine, record: RetentionRecord) -> None:
    values = {**record.__dict__, "acted_at": datetime.now(UTC)}
    with engine.begin() as conn:
        conn.execute(insert(retention_actions).values(**values))


def actions_of(engine: Engine, retention_run: str | None = None) -> list[RetentionRecord]:
    """Recorded actions, oldest first; only one retention run's when named."""
    query = select(retention_actions).order_by(retention_actions.c.id)
    if retention_run is not None:
        query = query.where(retention_actions.c.retention_run == retention_run)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        RetentionRecord(
            retention_run=r.retention_run,
            action=r.action,
            zone=r.zone,
            container=r.container,
            source=r.source,
            entity=r.entity,
            partition_day=r.partition_day,
            location=r.location,
            items=int(r.items),
            bytes=int(r.bytes),
            reason=r.reason,
            acted_at=r.acted_at if r.acted_at.tzinfo else r.acted_at.replace(tzinfo=UTC),
        )
        for r in rows
    ]
