"""One entity's turn to decide whether a run may begin publishing, across every task process and worker.

Publish decides from the control database whether a run that moves the watermark may begin (no other run of the
entity publishing uncommitted from the same watermark, none committed since it read it), and then records that it
began. Between the checks and the record, another run's publish task must not do the same, or both would pass and
send the same rows. An entity read in one task publishes one run at a time (max_active_tis_per_dag=1), but a
partitioned one (load.partitions) runs its publish tasks side by side, those of two runs too, so the turn is taken
here, on a connection of its own (the checks' own connections and transactions are unchanged):
- Postgres: a transaction-scoped advisory lock, held by a transaction that stays open for the turn, so a holder
  that dies (or a pooler that hands its connection on) releases it with its transaction;
- MySQL/MariaDB: a named lock (GET_LOCK), released with RELEASE_LOCK or when the holder's session ends;
- SQLite, one machine's database: an exclusive `flock` on a file beside it.
The turn lasts milliseconds (a few reads and one insert); waiting for it is bounded (TURN_WAIT_SECONDS), after which
the publish fails and Airflow retries it.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from ingestion.state.errors import PublishTurnTimeoutError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

TURN_WAIT_SECONDS = 120.0
_RETRY_SECONDS = 0.05


def publish_lock_key(source: str, entity: str) -> int:
    """The entity's advisory-lock key: a signed 64-bit number, the same in every process (unlike `hash()`)."""
    digest = hashlib.blake2b(f"ingest_publish:{source}.{entity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def publish_turn(
    engine: Engine, source: str, entity: str, *, wait_seconds: float = TURN_WAIT_SECONDS
) -> Iterator[None]:
    """Hold the entity's publish turn for the block; waits (at most `wait_seconds`) while another process holds it."""
    dialect = engine.dialect.name
    key = publish_lock_key(source, entity)
    where = f"{source}.{entity}"
    if dialect == "postgresql":
        with engine.connect() as conn, conn.begin():
            _wait(
                lambda: bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({key})").scalar()),
                where,
                wait_seconds,
            )
            yield  # the lock goes with the transaction, committed (or rolled back) as the block ends
    elif dialect in ("mysql", "mariadb"):
        with engine.connect() as conn:
            name = f"ingest_publish_{key & 0xFFFFFFFFFFFFFFFF:016x}"  # GET_LOCK names are at most 64 characters
            _wait(lambda: _named_lock(conn, name), where, wait_seconds)
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
    elif dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(f"{engine.url.database}.publish-{source}.{entity}.lock", where, wait_seconds):
            yield
    else:
        yield  # an in-memory SQLite database is one process's: its publish tasks cannot overlap


def _named_lock(conn: Connection, name: str) -> bool:
    return conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name,)).scalar() == 1


def _wait(take: Callable[[], bool], where: str, wait_seconds: float) -> None:
    """Call `take` until it returns True, for at most `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while not take():
        if time.monotonic() > deadline:
            raise PublishTurnTimeoutError(
                f"{where}: another publish task held the entity's publish turn for over {wait_seconds:.0f} s (it lasts "
                "milliseconds): a task is stuck holding it. This attempt publishes nothing; Airflow retries it"
            )
        time.sleep(_RETRY_SECONDS)


@contextmanager
def _file_lock(path: str, where: str, wait_seconds: float) -> Iterator[None]:
    with open(path, "a+b") as handle:  # a lock file beside the SQLite file, never read
        _wait(lambda: _try_flock(handle), where, wait_seconds)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_flock(handle: IO[bytes]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
