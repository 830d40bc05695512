"""What `ingest status` and the Ingestion view in the Airflow UI read from the control database: the latest committed
run, the failing checks and the open alerts of many entities at once, and one entity's recent history.

One module for both, so the CLI and the UI never disagree. The overview is a handful of statements however many
entities there are: each entity's latest run and latest checked run are found with one index lookup each (the
indexes of migration 0006), driven by the list of entities asked about, never by scanning a year of history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select, text

from ingestion.state.tables import alerts, check_results, entity_runs, publishes, watermark_history, watermarks

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

# Alerts stay open until the entity commits a run after them, as escalation decides (notify/dispatch.py); this is
# how far back they are looked for. Digest summaries and escalations repeat alerts already counted.
OPEN_ALERT_LOOKBACK = timedelta(days=7)
NOT_AN_ALERT_OF_ITS_OWN = ("summary", "escalation")
# The columns of a run the overview needs: not the file list or the check results (JSON, possibly large).
_RUN_SUMMARY = (
    entity_runs.c.source,
    entity_runs.c.entity,
    entity_runs.c.run_id,
    entity_runs.c.rows_landed,
    entity_runs.c.committed_at,
)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives naive UTC back


@dataclass(frozen=True)
class LatestRun:
    run_id: str
    rows_landed: int
    committed_at: datetime  # UTC


@dataclass(frozen=True)
class OpenAlert:
    kind: str
    severity: str
    created_at: datetime  # UTC


@dataclass(frozen=True)
class EntityFacts:
    """What the control database knows of one entity now."""

    latest_run: LatestRun | None = None
    failing_checks: list[dict[str, Any]] = field(default_factory=list)  # of the latest checked run's last attempt
    checked_run_id: str | None = None
    watermark: str | None = None
    open_alerts: list[OpenAlert] = field(default_factory=list)


# Keys per statement: two or three bind parameters each, below SQLite's (32,766) and Postgres's (65,535) limits.
KEYS_PER_STATEMENT = 5000


def entity_facts(engine: Engine, keys: Iterable[tuple[str, str]], now: datetime) -> dict[tuple[str, str], EntityFacts]:
    """For each (source, entity) of `keys`: its latest committed run, the failed checks of its latest checked run (its
    last attempt), its watermark and its open alerts (created since its latest commit, within OPEN_ALERT_LOOKBACK)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    with engine.connect() as conn:
        run_ids, checked_runs = _latest_ids(conn, wanted)
        runs = _runs_by_id(conn, [i for i in run_ids.values() if i is not None])
        checks = _latest_checks(conn, {k: run for k, run in checked_runs.items() if run is not None})
        marks = _watermarks(conn, {source for source, _ in wanted})
        open_alerts = _alerts_since(conn, now - OPEN_ALERT_LOOKBACK)
    out = {}
    for key in wanted:
        run_pk = run_ids.get(key)
        latest = runs.get(run_pk) if run_pk is not None else None
        checked_run, failing = checks.get(key, (None, []))
        last_commit = latest.committed_at if latest else None
        source_alerts = open_alerts.get(key, []) + open_alerts.get((key[0], None), [])
        out[key] = EntityFacts(
            latest_run=latest,
            failing_checks=failing,
            checked_run_id=checked_run,
            watermark=marks.get(key),
            open_alerts=sorted(
                (a for a in source_alerts if last_commit is None or a.created_at > last_commit),
                key=lambda a: a.created_at,
                reverse=True,
            ),
        )
    return out


def _values_cte(columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> tuple[str, dict[str, Any]]:
    """`WITH wanted(<columns>) AS (VALUES ...)` with a bind parameter per value. As text: SQLAlchemy renders a VALUES
    alias with a column list, which SQLite cannot read; a CTE's column list both read."""
    params: dict[str, Any] = {}
    tuples = []
    for i, row in enumerate(rows):
        names = [f"v{i}_{j}" for j in range(len(columns))]
        params.update(zip(names, row, strict=True))
        tuples.append("(" + ", ".join(f":{name}" for name in names) + ")")
    return f"WITH wanted({', '.join(columns)}) AS (VALUES {', '.join(tuples)}) ", params


def _latest_ids(
    conn: Connection, wanted: Sequence[tuple[str, str]]
) -> tuple[dict[tuple[str, str], int | None], dict[tuple[str, str], str | None]]:
    """Per key, the id of its latest committed run and the run id of its latest check result: one backward step
    down an index each (ix_ingest_entity_run_latest, ix_ingest_check_result_latest), driven by the keys asked about.
    Only placeholders and table names are formatted into the statement."""
    runs: dict[tuple[str, str], int | None] = {}
    checks: dict[tuple[str, str], str | None] = {}
    for start in range(0, len(wanted), KEYS_PER_STATEMENT):
        cte, params = _values_cte(("source", "entity"), wanted[start : start + KEYS_PER_STATEMENT])
        statement = text(
            cte + "SELECT w.source, w.entity, "
            f"(SELECT max(r.id) FROM {entity_runs.name} r WHERE r.source = w.source AND r.entity = w.entity), "
            f"(SELECT c.run_id FROM {check_results.name} c WHERE c.source = w.source AND c.entity = w.entity "
            "ORDER BY c.id DESC LIMIT 1) "
            "FROM wanted w"
        )
        for source, entity, run_pk, checked_run in conn.execute(statement, params):
            runs[(source, entity)], checks[(source, entity)] = run_pk, checked_run
    return runs, checks


def _runs_by_id(conn: Connection, ids: list[int]) -> dict[int, LatestRun]:
    if not ids:
        return {}
    query = select(entity_runs.c.id, *_RUN_SUMMARY).where(entity_runs.c.id.in_(ids))
    return {r.id: LatestRun(r.run_id, int(r.rows_landed), _utc(r.committed_at)) for r in conn.execute(query)}


def _latest_checks(
    conn: Connection, checked_runs: dict[tuple[str, str], str]
) -> dict[tuple[str, str], tuple[str, list[dict[str, Any]]]]:
    """Per entity, its latest checked run and the failed checks of that run's last attempt (name, severity, when:
    not the detail or the observations, which the entity page shows)."""
    if not checked_runs:
        return {}
    by_entity: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    keys = [(source, entity, run_id) for (source, entity), run_id in checked_runs.items()]
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        cte, params = _values_cte(("source", "entity", "run_id"), keys[start : start + KEYS_PER_STATEMENT])
        statement = text(
            cte + "SELECT c.source, c.entity, c.check_name, c.severity, c.passed, c.try_number, c.checked_at "
            f"FROM wanted w JOIN {check_results.name} c "
            "ON c.source = w.source AND c.entity = w.entity AND c.run_id = w.run_id"
        ).columns(  # typed, so SQLite's text timestamps and 0/1 booleans come back as the table's types
            check_results.c.source,
            check_results.c.entity,
            check_results.c.check_name,
            check_results.c.severity,
            check_results.c.passed,
            check_results.c.try_number,
            check_results.c.checked_at,
        )
        for row in conn.execute(statement, params).mappings():
            by_entity[(row["source"], row["entity"])].append(dict(row))
    out = {}
    for key, run_id in checked_runs.items():
        results = _last_attempt(by_entity.get(key, []))
        out[key] = (run_id, [r for r in results if not r["passed"]])
    return out


def _last_attempt(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last_try = max((r["try_number"] for r in results), default=0)
    return [r for r in results if r["try_number"] == last_try]


def _watermarks(conn: Connection, sources: set[str]) -> dict[tuple[str, str], str | None]:
    query = select(watermarks.c.source, watermarks.c.entity, watermarks.c.value).where(
        watermarks.c.source.in_(sorted(sources))
    )
    return {(r.source, r.entity): r.value for r in conn.execute(query)}


def _alerts_since(conn: Connection, since: datetime) -> dict[tuple[str, str | None], list[OpenAlert]]:
    """Alerts created since `since`, one per alert (not per channel), by (source, entity); entity None: the source's."""
    query = (
        select(
            alerts.c.source,
            alerts.c.entity,
            alerts.c.dedup_key,
            alerts.c.kind,
            alerts.c.severity,
            func.min(alerts.c.created_at),
        )
        .where(alerts.c.created_at >= since, alerts.c.kind.not_in(NOT_AN_ALERT_OF_ITS_OWN))
        .group_by(alerts.c.source, alerts.c.entity, alerts.c.dedup_key, alerts.c.kind, alerts.c.severity)
    )
    out: dict[tuple[str, str | None], list[OpenAlert]] = defaultdict(list)
    for source, entity, _key, kind, severity, created in conn.execute(query):
        out[(source, entity)].append(OpenAlert(kind, severity, _utc(created)))
    return out


# -- one entity -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityHistory:
    """One entity's recent runs (newest first, with their check results), watermark changes and waiting landings."""

    runs: list[dict[str, Any]]
    checks_by_run: dict[str, list[dict[str, Any]]]  # run id -> its last attempt's results, the latest run first
    watermark_changes: list[dict[str, Any]]
    waiting: list[dict[str, Any]]  # landings whose publish began and which never committed


def entity_history(engine: Engine, source: str, entity: str, limit: int = 30) -> EntityHistory:
    """The entity's last `limit` committed runs, the check results of the last `limit` runs checked (committed or
    not: a run whose validation failed never commits), its last `limit` watermark changes and the landings whose
    publish began and which never committed (waiting for a retry or a commit)."""
    r, c, h, p = entity_runs.c, check_results.c, watermark_history.c, publishes.c
    with engine.connect() as conn:
        runs = [
            _plain(row)
            for row in conn.execute(
                select(entity_runs).where(r.source == source, r.entity == entity).order_by(r.id.desc()).limit(limit)
            ).mappings()
        ]
        # The runs checked last, committed or not (a run whose validation failed never commits).
        checked = (
            select(c.run_id)
            .where(c.source == source, c.entity == entity)
            .group_by(c.run_id)
            .order_by(func.max(c.id).desc())
            .limit(limit)
        )
        checked_runs = [run_id for (run_id,) in conn.execute(checked)]
        checks = conn.execute(
            select(check_results)
            .where(c.source == source, c.entity == entity, c.run_id.in_(checked_runs))
            .order_by(c.id.desc())
        ).mappings()
        by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in checks:
            by_run[row["run_id"]].append(_plain(row))
        changes = [
            _plain(row)
            for row in conn.execute(
                select(watermark_history)
                .where(h.source == source, h.entity == entity)
                .order_by(h.id.desc())
                .limit(limit)
            ).mappings()
        ]
        committed = select(entity_runs.c.id).where(r.source == p.source, r.entity == p.entity, r.run_id == p.run_id)
        waiting = [
            _plain(row)
            for row in conn.execute(
                select(publishes)
                .where(and_(p.source == source, p.entity == entity), ~committed.exists())
                .order_by(p.id.desc())
                .limit(limit)
            ).mappings()
        ]
    return EntityHistory(
        runs=runs,
        checks_by_run={run_id: _last_attempt(by_run[run_id]) for run_id in checked_runs},
        watermark_changes=changes,
        waiting=waiting,
    )


def _plain(row: Any) -> dict[str, Any]:
    """A row as JSON-ready values: timestamps in UTC ISO form, the table's surrogate id left out."""
    out = {}
    for key, value in dict(row).items():
        if key == "id":
            continue
        out[key] = _utc(value).isoformat(timespec="seconds") if isinstance(value, datetime) else value
    return out
