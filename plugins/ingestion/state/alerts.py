"""The alert records (`ingest_alert`): every alert the platform meant to send, per channel, and what became of it.
The rules that read them (de-duplication, throttle, digest, escalation, retention) are notify.dispatch's; this module
only stores and finds records, for the control database and for a machine's fallback store (an SQLite file with this
one table).

A record's status: `sending` (a reservation: the decision to post is recorded, the post not confirmed yet), `sent`,
`failed`, `held` (its reason says why) or `digested` (a digest post summarised it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, or_, select, update

from ingestion.state.tables import alerts, entity_runs

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy import Connection, Engine

HELD = "held"
SENDING = "sending"
DIGESTED = "digested"
# What a digest still owes a channel: held records, and reservations never confirmed.
OWED = (HELD, SENDING)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def channel_lock_key(channel: str) -> int:
    """The channel's advisory-lock key: a signed 64-bit number, the same in every process (unlike `hash()`)."""
    digest = hashlib.blake2b(f"ingest_alert:{channel}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ChannelDecision:
    """Reads and the record of one decision for one channel, inside a transaction that holds the channel's lock."""

    def __init__(self, conn: Connection, channel: str) -> None:
        self._conn = conn
        self.channel = channel

    def count(self, statuses: Collection[str], since: datetime, dedup_key: str | None = None) -> int:
        """Records of the channel with one of `statuses` created at or after `since` (with `dedup_key`, if given)."""
        where = [alerts.c.channel == self.channel, alerts.c.status.in_(statuses), alerts.c.created_at >= since]
        if dedup_key is not None:
            where.append(alerts.c.dedup_key == dedup_key)
        return int(self._conn.execute(select(func.count()).where(*where)).scalar_one())

    def record(self, row: Mapping[str, Any]) -> int:
        """Insert the decision's record; returns its id."""
        key = self._conn.execute(insert(alerts).values(dict(row))).inserted_primary_key
        assert key is not None  # an insert of one row always has one
        return int(key[0])


def _lock_channel(conn: Connection, channel: str) -> None:
    """Serialise the decisions for one channel until `conn`'s transaction ends. Must be its first statement."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(channel_lock_key(channel))))
    elif conn.dialect.name == "sqlite":
        # One writer at a time: taking the write lock now, not at the insert, keeps the count and the insert
        # together. pysqlite begins no transaction of its own before a SELECT, so this BEGIN is the transaction's.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def deciding(engine: Engine, channel: str) -> Iterator[ChannelDecision]:
    """One decision for `channel`, atomic for the channel: under its lock (Postgres: a transaction-scoped advisory lock;
    SQLite: the write lock; other databases: none), committed when the block ends without an error."""
    with engine.connect() as conn:
        _lock_channel(conn, channel)
        yield ChannelDecision(conn, channel)
        conn.commit()


def set_status(engine: Engine, row_id: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == row_id).values(status=status))


def add(engine: Engine, row: Mapping[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(alerts).values(dict(row)))


def owed_to_digest(engine: Engine, stale_before: datetime) -> list[dict[str, Any]]:
    """Held records, and reservations created before `stale_before`, oldest first."""
    owed = or_(alerts.c.status == HELD, and_(alerts.c.status == SENDING, alerts.c.created_at < stale_before))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(alerts).where(owed).order_by(alerts.c.id)).mappings()]


def digested(engine: Engine, row_ids: Collection[int], summary: Mapping[str, Any]) -> None:
    """Mark the records a digest post summarised, and record that post, in one transaction."""
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id.in_(list(row_ids))).values(status=DIGESTED))
        conn.execute(insert(alerts).values(dict(summary)))


def records_of_kind(engine: Engine, kind: str, since: datetime) -> list[dict[str, Any]]:
    """Records of one kind created at or after `since`, oldest first."""
    query = select(alerts).where(alerts.c.kind == kind, alerts.c.created_at >= since).order_by(alerts.c.created_at)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def count_with_key(engine: Engine, dedup_key: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(alerts.c.dedup_key == dedup_key)).scalar_one())


def last_commit(engine: Engine, source: str, entity: str | None) -> datetime | None:
    """When the entity's latest run committed (UTC), or None."""
    query = select(func.max(entity_runs.c.committed_at)).where(
        entity_runs.c.source == source, entity_runs.c.entity == entity
    )
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return _utc(found) if found is not None else None


def delete_before(engine: Engine, cutoff: datetime) -> int:
    """Delete records created before `cutoff`, except those a digest still owes (OWED); returns how many."""
    with engine.begin() as conn:
        deleted = conn.execute(delete(alerts).where(alerts.c.created_at < cutoff, alerts.c.status.not_in(OWED)))
    return int(deleted.rowcount)


# -- a machine's fallback store, and moving its records into the control database -------------------------------------


def create_table(engine: Engine) -> None:
    """Create the `ingest_alert` table in a fallback store (an SQLite file) if it is not there."""
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # processes creating the table at once would race
        alerts.create(conn, checkfirst=True)
        conn.commit()


@contextmanager
def taking_out(engine: Engine, stale_before: datetime) -> Iterator[list[dict[str, Any]]]:
    """The records of a fallback store (an SQLite file) ready to move: all but reservations created at or after
    `stale_before` (their process may still confirm them), oldest first, `created_at` in UTC. The store's write lock
    is held for the whole block (one mover at a time, no decision in between); the records are deleted when the block
    ends without an error."""
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        alerts.create(conn, checkfirst=True)  # a file whose creator died before the table was made
        query = (
            select(alerts)
            .where(or_(alerts.c.status != SENDING, alerts.c.created_at < stale_before))
            .order_by(alerts.c.id)
        )
        rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["created_at"] = _utc(row["created_at"])
        yield rows
        if rows:
            conn.execute(delete(alerts).where(alerts.c.id.in_([r["id"] for r in rows])))
        conn.commit()


def _identity(row: Mapping[Any, Any]) -> tuple[str, str, datetime]:
    # What tells a record apart across the two stores (ids do not carry over; status changes after a move).
    return row["channel"], row["dedup_key"], _utc(row["created_at"])


def _already_moved(conn: Connection, rows: list[dict[str, Any]]) -> Counter[tuple[str, str, datetime]]:
    """How many records each identity of `rows` already has here. Counted, not just seen: two records of one alert
    and channel may share a timestamp (a duplicate held in the same microsecond, or a clock handed in)."""
    found = conn.execute(
        select(alerts.c.channel, alerts.c.dedup_key, alerts.c.created_at).where(
            alerts.c.channel.in_({r["channel"] for r in rows}),
            alerts.c.created_at >= min(r["created_at"] for r in rows),
            alerts.c.created_at <= max(r["created_at"] for r in rows),
        )
    ).mappings()
    return Counter(_identity(r) for r in found)


def move_in(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Insert records taken out of a fallback store, in one transaction, except those a move cut short (after this
    commit, before the fallback store's delete) already brought in: moving is idempotent."""
    if not rows:
        return
    with engine.begin() as conn:
        already = _already_moved(conn, rows)
        for row in rows:
            if already[_identity(row)] > 0:
                already[_identity(row)] -= 1
                continue
            conn.execute(insert(alerts).values({k: v for k, v in row.items() if k != "id"}))
