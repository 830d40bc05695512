"""The keys of the rows a run landed at its new high cursor value, in the control database (`ingest_boundary_key`).

A run records them under its own run id while it extracts (each partition of a partitioned run its share, under the
partition's number, which a retried partition drops and writes again); the next run of the entity reads the set of the
run the live watermark names, at the value the watermark holds (pipeline/boundary_ties.py). Keys are texts of the values
as landed in the general zone, so a PII key column (which may only be hashed) is stored as its hash.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import Engine, delete, insert, select

from ingestion.state.tables import boundary_keys, entity_runs, watermarks

# Keys per INSERT: enough to make a big set quick, small enough for any driver's parameter limits.
INSERT_CHUNK = 5_000
READ_CHUNK = 10_000


def published_keys(engine: Engine, source: str, entity: str, run_id: str, cursor_value: str) -> set[str]:
    """The keys run `run_id` recorded at `cursor_value` (the encoded watermark), as one set."""
    c = boundary_keys.c
    query = select(c.row_key).where(
        c.source == source, c.entity == entity, c.run_id == run_id, c.cursor_value == cursor_value
    )
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=READ_CHUNK).execute(query)
        return {key for (key,) in rows}


def forget_run(engine: Engine, source: str, entity: str, run_id: str, *, part: int | None = None) -> None:
    """Drop what an earlier attempt of the run recorded: the run's set is written again. With `part`, only what that
    partition recorded (the others' shares of a partitioned run's set stay)."""
    c = boundary_keys.c
    condition = [c.source == source, c.entity == entity, c.run_id == run_id]
    if part is not None:
        condition.append(c.part == part)
    with engine.begin() as conn:
        conn.execute(delete(boundary_keys).where(*condition))


def record_keys(
    engine: Engine,
    source: str,
    entity: str,
    run_id: str,
    cursor_value: str,
    keys: Iterable[str],
    *,
    part: int | None = None,
) -> int:
    """Add keys to the run's set at `cursor_value` (as partition `part`'s share of it); returns how many."""
    written = 0
    now = datetime.now(UTC)
    for chunk in _chunks(keys, INSERT_CHUNK):
        rows = [
            {
                "source": source,
                "entity": entity,
                "run_id": run_id,
                "cursor_value": cursor_value,
                "row_key": key,
                "part": part,
                "recorded_at": now,
            }
            for key in chunk
        ]
        with engine.begin() as conn:
            conn.execute(insert(boundary_keys), rows)
        written += len(rows)
    return written


def drop_spent_sets(engine: Engine, source: str, entity: str, *, keep: Collection[str]) -> None:
    """Drop the sets no run can use any more: those of committed runs other than `keep` (the current run, and the
    live watermark's run as it read it) and other than the live watermark's run now. A run that has not committed
    keeps its set, since it may still commit and become the live watermark's run: two runs may extract side by side,
    and the later must not drop the earlier's set, whether it is still going or committed meanwhile."""
    c = boundary_keys.c
    committed = select(entity_runs.c.run_id).where(entity_runs.c.source == source, entity_runs.c.entity == entity)
    live_now = (
        select(watermarks.c.run_id)
        .where(watermarks.c.source == source, watermarks.c.entity == entity, watermarks.c.run_id == c.run_id)
        .exists()
    )
    with engine.begin() as conn:
        conn.execute(
            delete(boundary_keys).where(
                c.source == source,
                c.entity == entity,
                c.run_id.not_in(list(keep)),
                c.run_id.in_(committed),
                ~live_now,
            )
        )


def _chunks(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(keys)
    while chunk := list(islice(iterator, size)):
        yield chunk
