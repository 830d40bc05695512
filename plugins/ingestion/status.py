"""`ingest status`: per source and entity, the last successful run, how fresh it is against the schedule and
deadline, the rows it landed, the watermark and the checks failing in the latest validated run. Reads the control
database only (no Airflow metadata), so it answers the same from a laptop, a CI job or the scheduler host."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.config.models import SourceConfig
    from ingestion.state.store import ControlStore

DEFAULT_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class EntityStatus:
    source: str
    entity: str
    state: str  # ok, late, never (no successful run yet)
    last_success: str | None
    age: str | None
    due_within: str | None  # how old the last success may be before the entity counts as late
    rows: int | None
    watermark: str | None
    failing_checks: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def schedule_period(schedule: str | None, at: datetime) -> timedelta | None:
    """The time between two runs of the schedule around `at`, or None for unscheduled sources."""
    from croniter import croniter

    from ingestion.config.models import NON_PERIODIC_SCHEDULES

    if schedule is None or schedule in NON_PERIODIC_SCHEDULES:
        return None
    ticks = croniter(schedule, at)  # croniter reads the @daily-style presets too
    first = ticks.get_next(datetime)
    return ticks.get_next(datetime) - first


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}d " if days else "") + f"{hours}h{minutes:02d}m"


def entity_statuses(
    configs: list[SourceConfig], store: ControlStore, now: datetime | None = None
) -> list[EntityStatus]:
    now = now or datetime.now(UTC)
    marks = {(m.source, m.entity): m for m in store.list_watermarks()}
    out = []
    for config in sorted(configs, key=lambda c: c.name):
        period = schedule_period(config.schedule, now)
        expected = config.deadline.expected_duration_minutes
        grace = timedelta(minutes=expected) if expected else DEFAULT_GRACE
        due = period + grace if period else None
        for entity in config.entities:
            runs = store.runs(config.name, entity.name, limit=1)
            last = runs[0] if runs else None
            committed_at = last.committed_at if last else None  # UTC
            age = now - committed_at if committed_at else None
            state = "never" if age is None else ("late" if due is not None and age > due else "ok")
            failing = [
                f"{r['check_name']} [{r['severity']}]"
                for r in store.check_results(config.name, entity.name)
                if not r["passed"]
            ]
            mark = marks.get((config.name, entity.name))
            out.append(
                EntityStatus(
                    source=config.name,
                    entity=entity.name,
                    state=state,
                    last_success=committed_at.isoformat(timespec="seconds") if committed_at else None,
                    age=_age(age) if age is not None else None,
                    due_within=_age(due) if due else None,
                    rows=last.rows_landed if last else None,
                    watermark=mark.value if mark else None,
                    failing_checks=failing,
                )
            )
    return out


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
