"""`ingest status` and the Ingestion view's overview: per source and entity, the last successful run, how fresh it is
against the schedule and deadline, the rows it landed, the watermark, the checks failing in the latest validated run,
the open alerts, the owning team and who is on call for it. Reads the control database only (no Airflow metadata),
through state/overview.py, so it answers the same from a laptop, a CI job, the scheduler host or the web UI."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingestion.state.overview import entity_facts

if TYPE_CHECKING:
    from ingestion.config.models import SourceConfig
    from ingestion.config.oncall import OnCallConfig
    from ingestion.state.store import ControlStore

DEFAULT_GRACE = timedelta(hours=1)
STATES = ("ok", "late", "failing", "never")


@dataclass(frozen=True)
class EntityStatus:
    source: str
    entity: str
    # failing: the latest validated run has a failed check of severity error, or a failure was alerted since the last
    # success; else never (no successful run yet), late (the last success is older than due_within) or ok.
    state: str
    last_success: str | None
    age: str | None
    due_within: str | None  # how old the last success may be before the entity counts as late
    rows: int | None
    watermark: str | None
    failing_checks: list[str]
    kind: str = ""  # sql, http, sftp
    team: str = ""
    on_call: str | None = None  # the team's primary on call now (_oncall.json), or None without a rotation
    open_alerts: int = 0  # alerts raised since the last success (the episode escalation would still follow)
    age_seconds: int | None = None  # the age as a number, to sort by

    def as_dict(self) -> dict[str, Any]:
        # Shallow: dataclasses.asdict deep-copies, which took a fifth of the overview's time for 1,000 entities.
        return {**vars(self), "failing_checks": list(self.failing_checks)}


def schedule_period(schedule: str | None, at: datetime) -> timedelta | None:
    """The time between two runs of the schedule around `at` (to the hour), or None for unscheduled sources."""
    from ingestion.config.models import NON_PERIODIC_SCHEDULES

    if schedule is None or schedule in NON_PERIODIC_SCHEDULES:
        return None
    return _period(schedule, at.replace(minute=0, second=0, microsecond=0))


@functools.lru_cache(maxsize=4096)
def _period(schedule: str, hour: datetime) -> timedelta:
    # Cached: croniter takes about 0.3 ms a schedule, a third of the overview's time for 1,000 entities.
    from croniter import croniter

    ticks = croniter(schedule, hour)  # croniter reads the @daily-style presets too
    first = ticks.get_next(datetime)
    return ticks.get_next(datetime) - first


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}d " if days else "") + f"{hours}h{minutes:02d}m"


def entity_statuses(
    configs: list[SourceConfig],
    store: ControlStore,
    now: datetime | None = None,
    oncall: OnCallConfig | None = None,
) -> list[EntityStatus]:
    now = now or datetime.now(UTC)
    ordered = sorted(configs, key=lambda c: c.name)
    facts = entity_facts(store.engine, [(c.name, e.name) for c in ordered for e in c.entities], now)
    on_call_now = _on_call(oncall, {c.owners.team for c in ordered}, now)
    out = []
    for config in ordered:
        period = schedule_period(config.schedule, now)
        expected = config.deadline.expected_duration_minutes
        grace = timedelta(minutes=expected) if expected else DEFAULT_GRACE
        due = period + grace if period else None
        for entity in config.entities:
            known = facts[(config.name, entity.name)]
            last = known.latest_run
            committed_at = last.committed_at if last else None  # UTC
            age = now - committed_at if committed_at else None
            failing = [f"{r['check_name']} [{r['severity']}]" for r in known.failing_checks]
            # A check of severity error failed after the last success: validation stopped the run.
            stopped = any(
                r["severity"] == "error" and (committed_at is None or _utc(r["checked_at"]) > committed_at)
                for r in known.failing_checks
            )
            if stopped or any(a.kind == "failure" for a in known.open_alerts):
                state = "failing"
            elif age is None:
                state = "never"
            else:
                state = "late" if due is not None and age > due else "ok"
            out.append(
                EntityStatus(
                    source=config.name,
                    entity=entity.name,
                    state=state,
                    last_success=committed_at.isoformat(timespec="seconds") if committed_at else None,
                    age=_age(age) if age is not None else None,
                    due_within=_age(due) if due else None,
                    rows=last.rows_landed if last else None,
                    watermark=known.watermark,
                    failing_checks=failing,
                    kind=config.kind,
                    team=config.owners.team,
                    on_call=on_call_now.get(config.owners.team),
                    open_alerts=len(known.open_alerts),
                    age_seconds=int(age.total_seconds()) if age is not None else None,
                )
            )
    return out


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def _on_call(oncall: OnCallConfig | None, teams: set[str], now: datetime) -> dict[str, str]:
    from ingestion.config.oncall import on_call

    if oncall is None:
        return {}
    return {team: on_call(team, oncall.teams[team], now).primary for team in teams if team in oncall.teams}


def render_table(statuses: list[EntityStatus]) -> str:
    header = (
        "source",
        "entity",
        "state",
        "last success (UTC)",
        "age",
        "due within",
        "rows",
        "watermark",
        "failing checks",
    )
    rows = [
        (
            s.source,
            s.entity,
            s.state.upper() if s.state != "ok" else "ok",
            s.last_success or "-",
            s.age or "-",
            s.due_within or "-",
            "-" if s.rows is None else f"{s.rows:,}",
            s.watermark or "-",
            ", ".join(s.failing_checks) or "-",
        )
        for s in statuses
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]
    )
