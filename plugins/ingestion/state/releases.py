"""Release records in the control database (`ingest_release`): a deployment opens one as `deploying`, and closes it
as `deployed`, `rolled_back` or `failed`. The last `deployed` record of an environment holds the merged configs that
run there, which the next deployment diffs against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from ingestion.state.tables import releases

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEPLOYING = "deploying"
DEPLOYED = "deployed"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
OUTCOMES = frozenset({DEPLOYED, ROLLED_BACK, FAILED})
COLUMNS = tuple(column.name for column in releases.columns)


@dataclass(frozen=True)
class ReleaseRecord:
    environment: str
    target: str  # local, helm
    version: str
    commit_sha: str | None
    image: str | None  # repository@digest; None for a local bundle
    deployed_by: str
    approved_by: str | None
    changes: dict[str, Any]
    configs: dict[str, Any] = field(repr=False)
    status: str = DEPLOYING
    detail: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    id: int | None = None


def open_release(engine: Engine, record: ReleaseRecord) -> int:
    """Record a deployment that starts now; returns its id."""
    values = {name: getattr(record, name) for name in COLUMNS if name != "id"}
    values.update(status=DEPLOYING, started_at=datetime.now(UTC), finished_at=None)
    with engine.begin() as conn:
        key = conn.execute(insert(releases).values(**values)).inserted_primary_key
    assert key is not None, "an insert into ingest_release returns its id"
    return int(key[0])


def close_release(engine: Engine, release_id: int, status: str, detail: str = "") -> None:
    if status not in OUTCOMES:
        raise ValueError(f"a release ends as one of {sorted(OUTCOMES)}, not {status!r}")
    with engine.begin() as conn:
        conn.execute(
            update(releases)
            .where(releases.c.id == release_id)
            .values(status=status, detail=detail, finished_at=datetime.now(UTC))
        )


def _record(row: Any) -> ReleaseRecord:
    return ReleaseRecord(**{name: getattr(row, name) for name in COLUMNS})


def release(engine: Engine, release_id: int) -> ReleaseRecord | None:
    with engine.connect() as conn:
        row = conn.execute(select(releases).where(releases.c.id == release_id)).first()
    return None if row is None else _record(row)


def last_deployed(engine: Engine, environment: str, target: str) -> ReleaseRecord | None:
    """The release running in `environment` on `target`: its latest successful deployment."""
    query = (
        select(releases)
        .where(releases.c.environment == environment, releases.c.target == target, releases.c.status == DEPLOYED)
        .order_by(releases.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else _record(row)


def history(engine: Engine, environment: str | None = None, limit: int = 20) -> list[ReleaseRecord]:
    """The latest releases, newest first; one environment's when named."""
    query = select(releases).order_by(releases.c.id.desc()).limit(limit)
    if environment is not None:
        query = query.where(releases.c.environment == environment)
    with engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]
