"""One entity's turn to decide whether a run may begin publishing, across every task process and worker.

Publish decides from the control database whether a run that moves the watermark may begin (no other run of the
entity publishing uncommitted from the same watermark, none committed since it read it), and then records that it
began. Between the checks and the record, another run's publish task must not do the same, or both would pass and
send the same rows. An entity read in one task publishes one run at a time (max_active_tis_per_dag=1), but a
partitioned one (load.partitions) runs its publish tasks side by side, those of two runs too, so the turn is taken
here: Postgres, a session advisory lock on the entity (held by a connection of its own, so the checks' own
connections and transactions are unchanged); SQLite, whose database is one machine's, an exclusive `flock` on a
file beside it. Other databases take no lock (the platform's control database is Postgres or SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine


def publish_lock_key(source: str, entity: str) -> int:
    """The entity's advisory-lock key: a signed 64-bit number, the same in every process (unlike `hash()`)."""
    digest = hashlib.blake2b(f"ingest_publish:{source}.{entity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def publish_turn(engine: Engine, source: str, entity: str) -> Iterator[None]:
    """Hold the entity's publish turn for the block; waits while another process holds it."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with _advisory_lock(engine, publish_lock_key(source, entity)):
            yield
    elif dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(f"{engine.url.database}.publish-{source}.{entity}.lock"):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(engine: Engine, key: int) -> Iterator[None]:
    from sqlalchemy import func, select

    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(key)))
        conn.commit()  # the lock is the session's: no transaction stays open while the block runs
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(key)))
            conn.commit()


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    import fcntl

    with open(path, "a+b") as handle:  # a lock file beside the SQLite file, never read
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
