"""Retention of an entity's rows in the control database: run records, check results and processed-file entries
older than a cutoff, less the rows that still decide something.

Kept whatever their age: the entity's newest run record and the run its watermark names (a cleared old run must
still find itself committed, and the status page its last success), each file's latest processed entry (a file
sources' dedup reads the newest mtime per name: without it, a file still on the server would load again), and the
boundary keys of the run the watermark names (the next run leaves those rows out). Older boundary keys are those of
runs that never committed: the runs after them drop only committed runs' sets (state/boundary_keys.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import aliased

from ingestion.state.tables import boundary_keys, check_results, entity_runs, processed_files, watermarks

if TYPE_CHECKING:
    from sqlalchemy import Engine

TABLES = (entity_runs.name, check_results.name, processed_files.name, boundary_keys.name)


def _old_rows(source: str, entity: str, cutoff: datetime) -> dict[str, tuple[Any, Any]]:
    """(table, where clause) of the rows past retention, per table name."""
    runs = entity_runs.c
    newest_run = select(func.max(runs.id)).where(runs.source == source, runs.entity == entity).scalar_subquery()
    watermark_run = select(watermarks.c.run_id).where(
        watermarks.c.source == source, watermarks.c.entity == entity, watermarks.c.run_id.is_not(None)
    )
    later = aliased(processed_files)
    newer_entry = exists().where(
        later.c.source == processed_files.c.source,
        later.c.entity == processed_files.c.entity,
        later.c.file_name == processed_files.c.file_name,
        or_(
            later.c.mtime > processed_files.c.mtime,
            and_(later.c.mtime == processed_files.c.mtime, later.c.id > processed_files.c.id),
        ),
    )
    old = {
        entity_runs: (runs.committed_at < cutoff, runs.id != newest_run, runs.run_id.not_in(watermark_run)),
        check_results: (check_results.c.checked_at < cutoff,),
        processed_files: (processed_files.c.processed_at < cutoff, newer_entry),
        boundary_keys: (boundary_keys.c.recorded_at < cutoff, boundary_keys.c.run_id.not_in(watermark_run)),
    }
    return {
        table.name: (table, and_(table.c.source == source, table.c.entity == entity, *conditions))
        for table, conditions in old.items()
    }


def count_old_rows(engine: Engine, source: str, entity: str, cutoff: datetime) -> dict[str, int]:
    """Rows past retention per table (what `delete_old_rows` would delete)."""
    counts = {}
    with engine.connect() as conn:
        for name, (table, where) in _old_rows(source, entity, cutoff).items():
            counts[name] = int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())
    return counts


def delete_old_rows(engine: Engine, source: str, entity: str, cutoff: datetime) -> dict[str, int]:
    """Delete the rows past retention, in one transaction; rows deleted per table."""
    deleted = {}
    with engine.begin() as conn:
        for name, (table, where) in _old_rows(source, entity, cutoff).items():
            deleted[name] = int(conn.execute(delete(table).where(where)).rowcount or 0)
    return deleted
