"""Retention of the landing zone: for every entity of every valid config, plan what its partitions' age calls for
(land/retention_plan.py), and on apply do it through the lake and record each change in the control database.

A run's commit is what makes its files retention's to touch: a partition's runs are read from their manifests in the
landing container (named after the run's stamp, in the same `date=` folder) and looked up among the committed runs.
A blob not named like a run's file, a missing manifest or a run not committed holds the whole partition back.
Entities no config names any more are left alone: nobody can say what their retention is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from ingestion.land.retention_plan import (
    ARCHIVE_TIER,
    Action,
    ActionKind,
    Partition,
    RetentionPlan,
    StoredBlob,
    Zone,
    control_period,
    partition_day,
    periods_for,
    plan_entity,
)

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import Engine

    from ingestion.config.models import Retention
    from ingestion.land.lake import Lake

log = logging.getLogger(__name__)

LakeFor = Callable[[str, str], "Lake"]  # (conn_id, container) -> the container


@dataclass(frozen=True)
class EntityScope:
    """One entity's landing places and retention, as its config says after entity overrides."""

    source: str
    entity: str
    conn_id: str
    container: str
    sensitive_container: str
    retention: Retention

    def zones(self) -> Iterator[tuple[Zone, str, str]]:
        """(zone, container, folder prefix its `date=` partitions sit under)."""
        yield Zone.LANDING, self.container, f"{self.source}/{self.entity}/"
        yield Zone.SENSITIVE, self.sensitive_container, f"{self.source}/{self.entity}/"
        yield Zone.QUARANTINE, self.sensitive_container, f"{self.source}/{self.entity}/_quarantine/"


@dataclass(frozen=True)
class RowAction:
    """Rows of one control DB table for one entity, past `retention.control_days`."""

    table: str
    source: str
    entity: str
    rows: int
    cutoff: date  # rows from before this day go
    reason: str

    def line(self) -> str:
        where = f"{self.table} of {self.source}.{self.entity}"
        return f"prune {where}: {self.rows} row(s) from before {self.cutoff} ({self.reason})"


@dataclass(frozen=True)
class RetentionRun:
    """What one retention run does: the lake's partitions, then the control DB's rows."""

    plan: RetentionPlan
    rows: tuple[RowAction, ...] = ()

    def lines(self) -> list[str]:
        return (
            [a.line() for a in self.plan.actions] + [r.line() for r in self.rows] + [h.line() for h in self.plan.held]
        )

    def summary(self) -> str:
        return f"{self.plan.summary()}; prune {sum(r.rows for r in self.rows)} control DB row(s)"


def scopes_from_configs(
    folder: Path | None = None, source: str | None = None, env: str | None = None
) -> list[EntityScope]:
    """Every entity's scope as `env`'s overlay has it (None: the deployment's, INGEST_ENV): an overlay may change
    the retention and the containers, so another environment's would keep or delete the wrong days."""
    from ingestion.config.loader import load_configs
    from ingestion.paths import config_dir
    from ingestion.planner import plan_source

    scopes = []
    loaded = load_configs(folder or config_dir(), env, only=source)
    for config in loaded.configs.values():
        for plan in plan_source(config, loaded.env).entities:
            scopes.append(
                EntityScope(
                    source=config.name,
                    entity=plan.entity.name,
                    conn_id=plan.landing.conn_id,
                    container=plan.landing.container,
                    sensitive_container=plan.landing.sensitive_container,
                    retention=config.retention,
                )
            )
    return scopes


def _partitions(lake: Lake, zone: Zone, scope: EntityScope, prefix: str) -> list[Partition]:
    """The entity's `date=` partitions directly under `prefix` (the landing zone's listing also holds the
    `_quarantine/` folder, which is a zone of its own)."""
    by_day: dict[date, list[StoredBlob]] = {}
    for blob in lake.stored(f"{prefix}date="):
        day = partition_day(blob.name[len(prefix) :])
        if day is None:
            log.warning("%s/%s is in no date= folder retention can read; left alone", lake.container, blob.name)
            continue
        by_day.setdefault(day, []).append(blob)
    return [
        Partition(zone, lake.container, scope.source, scope.entity, day, f"{prefix}date={day:%Y-%m-%d}/", tuple(blobs))
        for day, blobs in sorted(by_day.items())
    ]


class _CommittedRuns:
    """Whether every run in a partition is committed: its manifest in the landing container names the run, and the
    control database has that run committed. Manifests are read once each."""

    def __init__(self, landing: Lake, scope: EntityScope, committed_ids: frozenset[str]) -> None:
        self.landing = landing
        self.scope = scope
        self.committed_ids = committed_ids
        self._run_of: dict[str, str | None] = {}

    def _run_id(self, manifest: str) -> str | None:
        if manifest not in self._run_of:
            from azure.core.exceptions import ResourceNotFoundError

            try:
                self._run_of[manifest] = str(json.loads(self.landing.get(manifest))["run_id"])
            except ResourceNotFoundError:
                self._run_of[manifest] = None
        return self._run_of[manifest]

    def __call__(self, partition: Partition) -> bool:
        stamps = partition.run_stamps()
        if not stamps:
            return False
        source, entity = self.scope.source, self.scope.entity
        folder = f"{source}/{entity}/date={partition.day:%Y-%m-%d}/"
        return all(
            self._run_id(f"{folder}{source}_{entity}_{stamp}_manifest.json") in self.committed_ids for stamp in stamps
        )


def plan_retention(scopes: list[EntityScope], lake_for: LakeFor, engine: Engine, today: date) -> RetentionPlan:
    from ingestion.state.retention_log import committed_run_ids

    plan = RetentionPlan()
    for scope in scopes:
        landing = lake_for(scope.conn_id, scope.container)
        committed = _CommittedRuns(landing, scope, committed_run_ids(engine, scope.source, scope.entity))
        for zone, container, prefix in scope.zones():
            partitions = _partitions(lake_for(scope.conn_id, container), zone, scope, prefix)
            plan += plan_entity(partitions, periods_for(scope.retention, zone), today, committed)
    return plan


def plan_rows(scopes: list[EntityScope], engine: Engine, today: date) -> tuple[RowAction, ...]:
    from ingestion.state.control_retention import count_old_rows

    found = []
    for scope in scopes:
        days = control_period(scope.retention)
        cutoff = today - timedelta(days=days)
        counted = count_old_rows(engine, scope.source, scope.entity, _midnight(cutoff))
        reason = f"retention.control_days is {scope.retention.control_days}, never fewer than the lake keeps: {days}"
        found += [RowAction(t, scope.source, scope.entity, n, cutoff, reason) for t, n in counted.items() if n]
    return tuple(found)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def apply_action(action: Action, lake: Lake) -> None:
    if action.kind is ActionKind.ARCHIVE:
        lake.set_tier(list(action.blobs), ARCHIVE_TIER)
    else:
        lake.delete(list(action.blobs))


def apply_retention(
    run: RetentionRun, scopes: list[EntityScope], lake_for: LakeFor, engine: Engine, retention_run: str
) -> None:
    """Do each action, then record it: a run cut short has recorded exactly what it did, and the next run plans
    the rest again (an archived blob is not archived twice, a deleted one is not there to delete)."""
    from ingestion.state.control_retention import delete_old_rows
    from ingestion.state.retention_log import RetentionRecord, record_action

    conn_ids = {(s.source, s.entity): s.conn_id for s in scopes}
    for action in run.plan.actions:
        partition = action.partition
        apply_action(action, lake_for(conn_ids[(partition.source, partition.entity)], partition.container))
        record_action(
            engine,
            RetentionRecord(
                retention_run=retention_run,
                action=action.kind.value,
                zone=partition.zone.value,
                container=partition.container,
                source=partition.source,
                entity=partition.entity,
                partition_day=f"{partition.day:%Y-%m-%d}",
                location=partition.where,
                items=len(action.blobs),
                bytes=action.bytes,
                reason=action.reason,
            ),
        )
    by_entity: dict[tuple[str, str, date], list[RowAction]] = {}
    for row in run.rows:
        by_entity.setdefault((row.source, row.entity, row.cutoff), []).append(row)
    for (source, entity, cutoff), rows in by_entity.items():
        deleted = delete_old_rows(engine, source, entity, _midnight(cutoff))
        for row in rows:
            record_action(
                engine,
                RetentionRecord(
                    retention_run=retention_run,
                    action="delete",
                    zone="control_db",
                    container="",
                    source=source,
                    entity=entity,
                    partition_day=f"{cutoff:%Y-%m-%d}",
                    location=row.table,
                    items=deleted[row.table],
                    bytes=0,
                    reason=row.reason,
                ),
            )


def lakes_by_connection() -> LakeFor:
    """A Lake per (connection, container), made once."""
    from ingestion.land.lake import Lake

    made: dict[tuple[str, str], Lake] = {}

    def lake_for(conn_id: str, container: str) -> Lake:
        if (conn_id, container) not in made:
            made[(conn_id, container)] = Lake.from_conn_id(conn_id, container)
        return made[(conn_id, container)]

    return lake_for


def run_retention(
    engine: Engine,
    *,
    apply: bool,
    today: date,
    retention_run: str,
    folder: Path | None = None,
    source: str | None = None,
    env: str | None = None,
    lake_for: LakeFor | None = None,
    echo: Callable[[str], None] = log.info,
) -> RetentionRun:
    """Plan retention for `today` and echo the plan, line by line, then its summary; with `apply`, do it. A dry run
    echoes exactly what an apply would do, and changes nothing."""
    lake_for = lake_for or lakes_by_connection()
    scopes = scopes_from_configs(folder, source, env)
    run = RetentionRun(plan_retention(scopes, lake_for, engine, today), plan_rows(scopes, engine, today))
    for line in run.lines():
        echo(line)
    if apply:
        apply_retention(run, scopes, lake_for, engine, retention_run)
    echo(f"{'applied' if apply else 'dry run, nothing changed'}: {run.summary()}")
    return run
