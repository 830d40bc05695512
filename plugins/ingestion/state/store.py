"""Reads and writes of the control database. Every write is one transaction; the watermark only moves in commit.

`commit_run` is the heart of the exactly-once story on the state side: it records the run and moves the watermark
together, refuses to move it if someone else did since the run read it, and is a no-op for a run already committed
(so a retried or re-run commit never moves anything twice).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from ingestion.faults import fault_point
from ingestion.state.errors import LandingChangedError, WatermarkConflictError
from ingestion.state.schema import prepare, upgrade
from ingestion.state.tables import (
    check_results,
    entity_runs,
    processed_files,
    publishes,
    watermark_history,
    watermarks,
)
from ingestion.state.watermark_values import same_watermark

log = logging.getLogger(__name__)


class CommitOutcome(StrEnum):
    COMMITTED = "committed"
    ALREADY_COMMITTED = "already_committed"


@dataclass(frozen=True)
class Watermark:
    source: str
    entity: str
    value: str | None
    value_type: str
    run_id: str | None
    updated_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    source: str
    entity: str
    old_value: str | None
    new_value: str | None
    value_type: str
    run_id: str | None
    changed_at: datetime
    changed_by: str
    reason: str


@dataclass(frozen=True)
class PublishRecord:
    """A run whose publish began (see tables.publishes); `rows` is None until its transaction is known committed."""

    source: str
    entity: str
    run_id: str
    landing_id: str
    manifest: str
    topic: str
    moves_watermark: bool
    watermark_from: str | None = None
    watermark_to: str | None = None
    watermark_type: str | None = None
    rows: int | None = None

    @property
    def published(self) -> bool:
        return self.rows is not None


@dataclass(frozen=True)
class RunRecord:
    source: str
    entity: str
    run_id: str
    dag_id: str
    load_mode: str
    try_number: int = 1
    window_start: str | None = None
    window_end: str | None = None
    rows_extracted: int = 0
    rows_landed: int = 0
    rows_published: int = 0
    bytes_landed: int = 0
    seconds_extract_land: float | None = None
    seconds_validate: float | None = None
    seconds_publish: float | None = None
    files: list[str] = field(default_factory=list)
    check_results: list[dict[str, Any]] = field(default_factory=list)  # CheckResult.as_dict() of each check


@dataclass(frozen=True, kw_only=True)
class CommittedRunRecord(RunRecord):
    """A run as the control database holds it once committed."""

    moved_watermark: bool
    committed_at: datetime  # UTC


def _committed_run_record(row: Any) -> CommittedRunRecord:
    return CommittedRunRecord(
        source=row.source,
        entity=row.entity,
        run_id=row.run_id,
        dag_id=row.dag_id,
        load_mode=row.load_mode,
        try_number=int(row.try_number),
        window_start=row.window_start,
        window_end=row.window_end,
        rows_extracted=int(row.rows_extracted),
        rows_landed=int(row.rows_landed),
        rows_published=int(row.rows_published),
        bytes_landed=int(row.bytes_landed),
        seconds_extract_land=row.seconds_extract_land,
        seconds_validate=row.seconds_validate,
        seconds_publish=row.seconds_publish,
        files=list(row.files or []),
        check_results=list(row.check_results or []),
        moved_watermark=bool(row.moved_watermark),
        committed_at=_utc(row.committed_at),
    )


def _utc(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_UNSET: Any = object()


class ControlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_schema(self) -> ControlStore:
        """Bring the schema to the newest revision (state.schema.upgrade: what `scripts/ingest db upgrade` runs); a
        no-op at head. For tests and local tools: a stage only checks it, through `open_control_store`."""
        upgrade(self.engine)
        return self

    # -- watermarks -------------------------------------------------------------------------------------------

    def get_watermark(self, source: str, entity: str) -> Watermark | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(watermarks).where(watermarks.c.source == source, watermarks.c.entity == entity)
            ).first()
        if row is None:
            return None
        return Watermark(row.source, row.entity, row.value, row.value_type, row.run_id, _utc(row.updated_at))

    def list_watermarks(self, source: str | None = None) -> list[Watermark]:
        query = select(watermarks).order_by(watermarks.c.source, watermarks.c.entity)
        if source is not None:
            query = query.where(watermarks.c.source == source)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Watermark(r.source, r.entity, r.value, r.value_type, r.run_id, _utc(r.updated_at)) for r in rows]

    def set_watermark(
        self,
        source: str,
        entity: str,
        value: str | None,
        *,
        value_type: str = "timestamp",
        reason: str,
        changed_by: str,
        run_id: str | None = None,
        expected: str | None = _UNSET,
    ) -> Watermark:
        """Set (or with value None, reset) a watermark and write its history, in one transaction."""
        if not reason.strip():
            raise ValueError("a watermark change needs a reason")
        with self.engine.begin() as conn:
            self._move(conn, source, entity, value, value_type, reason, changed_by, run_id, expected)
        watermark = self.get_watermark(source, entity)
        assert watermark is not None
        return watermark

    def _move(
        self,
        conn: Any,
        source: str,
        entity: str,
        value: str | None,
        value_type: str,
        reason: str,
        changed_by: str,
        run_id: str | None,
        expected: str | None,
    ) -> None:
        now = datetime.now(UTC)
        current = conn.execute(
            select(watermarks.c.value, watermarks.c.value_type)
            .where(watermarks.c.source == source, watermarks.c.entity == entity)
            .with_for_update()
        ).first()
        old = current.value if current is not None else None
        # Values, not texts: the run read the stored text through its type, so a value set by hand in another ISO
        # form (`...Z`, `+01:00`, before the CLI normalised it) is the one the run started from, not a move.
        stored_type = current.value_type if current is not None else value_type
        if expected is not _UNSET and not same_watermark(old, expected, stored_type):
            raise WatermarkConflictError(
                f"watermark of {source}.{entity} is {old!r}, but this change expected {expected!r}: it was moved "
                "since the run read it (a manual set or reset, or another run); the run must start again"
            )
        values = {"value": value, "value_type": value_type, "run_id": run_id, "updated_at": now}
        if current is None:
            conn.execute(insert(watermarks).values(source=source, entity=entity, **values))
        else:
            conn.execute(
                update(watermarks).where(watermarks.c.source == source, watermarks.c.entity == entity).values(**values)
            )
        conn.execute(
            insert(watermark_history).values(
                source=source,
                entity=entity,
                old_value=old,
                new_value=value,
                value_type=value_type,
                run_id=run_id,
                changed_at=now,
                changed_by=changed_by,
                reason=reason,
            )
        )
        log.info("watermark %s.%s: %s -> %s (%s, by %s)", source, entity, old, value, reason, changed_by)

    def history(self, source: str, entity: str | None = None, limit: int = 50) -> list[HistoryEntry]:
        query = select(watermark_history).where(watermark_history.c.source == source)
        if entity is not None:
            query = query.where(watermark_history.c.entity == entity)
        query = query.order_by(watermark_history.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            HistoryEntry(
                r.source,
                r.entity,
                r.old_value,
                r.new_value,
                r.value_type,
                r.run_id,
                _utc(r.changed_at),
                r.changed_by,
                r.reason,
            )
            for r in rows
        ]

    def latest_change(self, source: str, entity: str) -> int:
        """The id of the entity's latest watermark change (0 before the first): what a run has seen when it reads
        the watermark, so that its publish can tell whether a run committed since (runs_committed_since)."""
        return self._latest_change(source, entity)

    def _latest_change(self, source: str, entity: str, *where: Any) -> int:
        c = watermark_history.c
        query = select(func.max(c.id)).where(c.source == source, c.entity == entity, *where)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def latest_set_by_hand(self, source: str, entity: str) -> int:
        """The id of the entity's latest watermark change made by hand (`watermark set`, no run); 0 if none."""
        return self._latest_change(source, entity, watermark_history.c.run_id.is_(None))

    def runs_committed_since(self, source: str, entity: str, change: int) -> list[str]:
        """The runs whose commits changed (or kept) the entity's watermark after change `change`, oldest first."""
        c = watermark_history.c
        query = (
            select(c.run_id)
            .where(c.source == source, c.entity == entity, c.id > change, c.run_id.is_not(None))
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            return [row.run_id for row in conn.execute(query)]

    # -- runs -------------------------------------------------------------------------------------------------

    def commit_run(
        self,
        record: RunRecord,
        *,
        new_watermark: str | None = None,
        value_type: str = "timestamp",
        expected_watermark: str | None = None,
        move_watermark: bool = True,
        files_loaded: list[dict[str, Any]] | None = None,
    ) -> CommitOutcome:
        """Record the run and (unless told not to, e.g. for a backfill window) move the watermark, atomically.

        `files_loaded` (file sources) go on the processed-file list in the same transaction.
        `expected_watermark` is the value the run started from; if the live one differs, nothing is written and
        WatermarkConflictError is raised. A run already committed returns ALREADY_COMMITTED and changes nothing.
        """
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(entity_runs.c.id).where(
                    entity_runs.c.source == record.source,
                    entity_runs.c.entity == record.entity,
                    entity_runs.c.run_id == record.run_id,
                )
            ).first()
            if existing is not None:
                log.info(
                    "%s.%s run %s was committed before: nothing to do", record.source, record.entity, record.run_id
                )
                return CommitOutcome.ALREADY_COMMITTED
            if move_watermark:
                self._move(
                    conn,
                    record.source,
                    record.entity,
                    new_watermark,
                    value_type,
                    f"run {record.run_id}",
                    f"airflow:{record.dag_id}",
                    record.run_id,
                    expected_watermark,
                )
            now = datetime.now(UTC)
            conn.execute(
                insert(entity_runs).values(**dict(record.__dict__), moved_watermark=move_watermark, committed_at=now)
            )
            fault_point("commit.in_transaction", f"{record.source}.{record.entity}")
            if files_loaded:
                conn.execute(
                    insert(processed_files),
                    [
                        {
                            "source": record.source,
                            "entity": record.entity,
                            "file_name": f["name"],
                            "mtime": datetime.fromisoformat(f["mtime"]),
                            "size": f["size"],
                            "rows": f.get("rows", 0),
                            "run_id": record.run_id,
                            "processed_at": now,
                        }
                        for f in files_loaded
                    ],
                )
        return CommitOutcome.COMMITTED

    def processed_files(self, source: str, entity: str) -> dict[str, tuple[datetime, int]]:
        """File name -> (mtime, size) of its latest entry (newest mtime, then newest entry) a committed run loaded
        it with (file sources). The size tells a file rewritten within its mtime's second from an unchanged one."""
        query = (
            select(processed_files.c.file_name, processed_files.c.mtime, processed_files.c.size)
            .where(processed_files.c.source == source, processed_files.c.entity == entity)
            .order_by(processed_files.c.mtime, processed_files.c.id)
        )
        with self.engine.connect() as conn:
            return {name: (_utc(mtime), int(size)) for name, mtime, size in conn.execute(query)}

    def committed_run(self, source: str, entity: str, run_id: str) -> CommittedRunRecord | None:
        """The record of a run already committed, or None."""
        query = select(entity_runs).where(
            entity_runs.c.source == source, entity_runs.c.entity == entity, entity_runs.c.run_id == run_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _committed_run_record(row)

    def runs(self, source: str, entity: str | None = None, limit: int = 20) -> list[CommittedRunRecord]:
        """The source's (or entity's) committed runs, newest first."""
        query = select(entity_runs).where(entity_runs.c.source == source)
        if entity is not None:
            query = query.where(entity_runs.c.entity == entity)
        query = query.order_by(entity_runs.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_committed_run_record(row) for row in conn.execute(query)]

    def recent_row_counts(
        self, source: str, entity: str, limit: int = 10, *, before_run: str | None = None
    ) -> list[int]:
        """Rows landed by the entity's last committed runs, newest first (for row-count anomaly checks)."""
        query = select(entity_runs.c.rows_landed).where(entity_runs.c.source == source, entity_runs.c.entity == entity)
        if before_run is not None:
            query = query.where(entity_runs.c.run_id != before_run)
        query = query.order_by(entity_runs.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [int(v) for (v,) in conn.execute(query)]

    def recent_durations(self, source: str, entity: str, limit: int = 10, *, before_run: str) -> list[float]:
        """Seconds the entity's last committed runs spent in extract_land, validate and publish, newest first."""
        c = entity_runs.c
        total = (
            func.coalesce(c.seconds_extract_land, 0)
            + func.coalesce(c.seconds_validate, 0)
            + func.coalesce(c.seconds_publish, 0)
        )
        query = (
            select(total)
            .where(c.source == source, c.entity == entity, c.run_id != before_run)
            .order_by(c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [float(v) for (v,) in conn.execute(query)]

    # -- publishes --------------------------------------------------------------------------------------------

    def publish_record(self, source: str, entity: str, run_id: str) -> PublishRecord | None:
        """The run's publish record, if its publish ever began."""
        query = select(publishes).where(
            publishes.c.source == source, publishes.c.entity == entity, publishes.c.run_id == run_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _publish_record(row)

    def begin_publish(self, record: PublishRecord) -> PublishRecord:
        """Record that the run's publish begins with this landing, before the Kafka transaction does. A retry with
        the same landing finds its record and goes on; a different landing of the same run is refused. The publish
        groups of a partitioned entity begin side by side: the one whose insert loses the race reads the winner's."""
        from sqlalchemy.exc import IntegrityError

        try:
            return self._begin_publish(record)
        except IntegrityError:
            return self._begin_publish(record)

    def _begin_publish(self, record: PublishRecord) -> PublishRecord:
        with self.engine.begin() as conn:
            row = conn.execute(
                select(publishes)
                .where(
                    publishes.c.source == record.source,
                    publishes.c.entity == record.entity,
                    publishes.c.run_id == record.run_id,
                )
                .with_for_update()
            ).first()
            if row is None:
                values = {k: v for k, v in record.__dict__.items() if k != "rows"}
                conn.execute(insert(publishes).values(**values, started_at=datetime.now(UTC)))
                return record
        earlier = _publish_record(row)
        if earlier.landing_id != record.landing_id:
            raise LandingChangedError(
                f"{record.source}.{record.entity} run {record.run_id}: its publish began with landing "
                f"{earlier.landing_id} ({earlier.manifest}), but the run's manifest now names landing "
                f"{record.landing_id}: the run was landed again after its publish began. Its first landing may be in "
                "Kafka already, so this one is not published. Restore the first landing, or trigger a new run"
            )
        return earlier

    def finish_publish(self, source: str, entity: str, run_id: str, rows: int) -> None:
        """The run's transaction is known to have committed `rows` messages."""
        with self.engine.begin() as conn:
            conn.execute(
                update(publishes)
                .where(publishes.c.source == source, publishes.c.entity == entity, publishes.c.run_id == run_id)
                .values(rows=rows, published_at=datetime.now(UTC))
            )

    def uncommitted_publishes(self, source: str, entity: str, *, other_than: str) -> list[PublishRecord]:
        """Runs of the entity, other than `other_than`, whose publish began but which never committed."""
        committed = select(entity_runs.c.id).where(
            entity_runs.c.source == publishes.c.source,
            entity_runs.c.entity == publishes.c.entity,
            entity_runs.c.run_id == publishes.c.run_id,
        )
        query = (
            select(publishes)
            .where(
                publishes.c.source == source,
                publishes.c.entity == entity,
                publishes.c.run_id != other_than,
                ~committed.exists(),
            )
            .order_by(publishes.c.id)
        )
        with self.engine.connect() as conn:
            return [_publish_record(row) for row in conn.execute(query)]

    # -- check results --------------------------------------------------------------------------------------

    def record_checks(
        self, source: str, entity: str, run_id: str, try_number: int, results: list[dict[str, Any]]
    ) -> None:
        """Store one attempt's check results (a result is CheckResult.as_dict()); earlier attempts stay."""
        if not results:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "source": source,
                "entity": entity,
                "run_id": run_id,
                "try_number": try_number,
                "check_name": r["name"],
                "kind": r["kind"],
                "severity": r["severity"],
                "passed": bool(r["passed"]),
                "detail": r["detail"],
                "observed": r.get("observed") or {},
                "checked_at": now,
            }
            for r in results
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(check_results), rows)

    def check_results(self, source: str, entity: str, run_id: str | None = None) -> list[dict[str, Any]]:
        """Check results of one run (or of the entity's latest checked run), of its latest attempt."""
        where = [check_results.c.source == source, check_results.c.entity == entity]
        with self.engine.connect() as conn:
            if run_id is None:
                latest = conn.execute(
                    select(check_results.c.run_id).where(*where).order_by(check_results.c.id.desc()).limit(1)
                ).scalar()
                if latest is None:
                    return []
                run_id = latest
            rows = [
                dict(r._mapping)
                for r in conn.execute(select(check_results).where(*where, check_results.c.run_id == run_id))
            ]
        last_try = max(r["try_number"] for r in rows) if rows else 0
        return [r for r in rows if r["try_number"] == last_try]


def _publish_record(row: Any) -> PublishRecord:
    return PublishRecord(
        source=row.source,
        entity=row.entity,
        run_id=row.run_id,
        landing_id=row.landing_id,
        manifest=row.manifest,
        topic=row.topic,
        moves_watermark=bool(row.moves_watermark),
        watermark_from=row.watermark_from,
        watermark_to=row.watermark_to,
        watermark_type=row.watermark_type,
        rows=None if row.rows is None else int(row.rows),
    )


@contextmanager
def open_control_store(explicit_url: str | None = None) -> Iterator[ControlStore]:
    """The control store for one stage, its connections closed on the way out. Its schema must be at this code's
    revision (an SQLite file is upgraded on the spot): otherwise state.schema.ControlSchemaError, terminal, says to
    run `scripts/ingest db upgrade`."""
    from ingestion.state.engine import control_engine

    store = ControlStore(control_engine(explicit_url))
    try:
        prepare(store.engine)
        yield store
    finally:
        store.engine.dispose()
