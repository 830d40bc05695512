"""Every alert goes out, whatever state the control database is in. `deliver` is what failure and deadline callbacks
and the stages call (through notifiers.send); it never raises into the pipeline.

1. Control database reachable: the rules of notify.dispatch, with their state in `ingest_alert`, hold across
   machines. Alert records an outage left on this machine are moved in first, so the throttle, the digest and
   escalation see them.
2. Control database unreachable (refused, no answer within CONNECT_TIMEOUT_SECONDS, its Airflow connection could not
   be looked up, or it failed mid-way): the same rules against an SQLite file of the machine's own
   (`$INGEST_ALERT_FALLBACK_DB`, by default `ingest_alert_fallback.db` in `$AIRFLOW_HOME`), so de-duplication and
   the throttle still hold across the task processes of the machine; every post says so (LOCAL_NOTICE). Its records
   move into the control database at the machine's next delivery with the database back, or at the next run of the
   `ingest_alerts` DAG on the machine; held ones then reach the digest. Moving is idempotent: a move cut short
   between the two databases' commits does not copy a record twice.
3. That file unusable as well: the alert is posted to each channel without de-duplication or throttling, and says so
   (UNTRACKED_NOTICE).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, make_url

from ingestion.notify.alert import short_error
from ingestion.notify.dispatch import STALE_RESERVATION, dispatch
from ingestion.notify.errors import AlertStoreError
from ingestion.state import alerts as records

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ingestion.notify.alert import Alert
    from ingestion.state.store import ControlStore

log = logging.getLogger(__name__)

FALLBACK_DB_ENV = "INGEST_ALERT_FALLBACK_DB"
FALLBACK_DB_NAME = "ingest_alert_fallback.db"
# A failure callback waits at most this long for a control database that does not answer, instead of the operating
# system's TCP timeout (minutes). Refused connections fail at once.
CONNECT_TIMEOUT_SECONDS = 5
# The machine's task processes take turns on the fallback file; each holds it for a few milliseconds.
LOCAL_BUSY_TIMEOUT_SECONDS = 30
LOCAL_NOTICE = (
    "The control database was unreachable: this alert is de-duplicated and throttled on this machine only, "
    "and is not in the alert history yet (it will be once the database is back)."
)
UNTRACKED_NOTICE = (
    "The control database was unreachable and so was this machine's alert store: this alert was posted without "
    "de-duplication or throttling and is not in the alert history."
)


def fallback_db_path() -> Path:
    """The machine's fallback alert store: `$INGEST_ALERT_FALLBACK_DB`, else beside the embedded control DB."""
    if value := os.environ.get(FALLBACK_DB_ENV):
        return Path(value)
    from ingestion.state.engine import default_sqlite_path

    return default_sqlite_path().with_name(FALLBACK_DB_NAME)


def _connect_args(url: str) -> dict[str, Any]:
    backend = make_url(url).get_backend_name()
    if backend in {"postgresql", "mysql", "mariadb"}:
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if backend == "sqlite":
        return {"timeout": LOCAL_BUSY_TIMEOUT_SECONDS}
    return {}


@contextmanager
def control_alert_store() -> Iterator[ControlStore]:
    """The control store for alerts, as state.store opens it but with a bounded connect timeout. Raises when the
    database cannot be resolved (state.engine: e.g. its connection lookup failed) or reached, or its schema is not
    this code's (state.schema: the alert is then decided on this machine, and its record moves in after the upgrade)."""
    from ingestion.state.engine import control_db_url
    from ingestion.state.schema import prepare
    from ingestion.state.store import ControlStore

    url = control_db_url()
    engine = create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url))
    try:
        prepare(engine)
        yield ControlStore(engine)
    finally:
        engine.dispose()


def _local_engine(path: Path) -> Engine:
    return create_engine(f"sqlite:///{path}", connect_args={"timeout": LOCAL_BUSY_TIMEOUT_SECONDS})


@contextmanager
def local_alert_store(path: Path) -> Iterator[ControlStore]:
    """The machine's fallback store: an SQLite file with the `ingest_alert` table only (all dispatch reads)."""
    from ingestion.state.store import ControlStore

    path.parent.mkdir(parents=True, exist_ok=True)
    engine = _local_engine(path)
    try:
        records.create_table(engine)
        yield ControlStore(engine)
    finally:
        engine.dispose()


def move_local_records(store: ControlStore, path: Path | None = None, now: datetime | None = None) -> int:
    """Move the alert records an outage left in the machine's fallback store into the control store; returns the
    records moved. Reservations still in flight stay until their post is confirmed (or they go stale)."""
    path = path or fallback_db_path()
    if not path.exists():
        return 0
    local = _local_engine(path)
    try:
        # The local write lock for the whole move: one mover at a time, and no local decision in between. The local
        # records are deleted only after the control store committed them; a move cut short in between is repeated
        # without copying twice (state.alerts.move_in).
        with records.taking_out(local, stale_before=(now or datetime.now(UTC)) - STALE_RESERVATION) as rows:
            records.move_in(store.engine, rows)
    finally:
        local.dispose()
    if rows:
        log.info("moved %d alert record(s) kept on this machine during a control database outage", len(rows))
    return len(rows)


def _post_untracked(alert: Alert, channels: tuple[str, ...], post: Callable[[str, Alert], None]) -> dict[str, str]:
    outcome: dict[str, str] = {}
    for channel in channels:
        try:
            post(channel, replace(alert, notice=UNTRACKED_NOTICE))
            outcome[channel] = "sent"
        except Exception as error:  # noqa: BLE001 - an alert that cannot be posted must not fail the pipeline
            outcome[channel] = "failed"
            log.error("alert %s to %s not sent: %s", alert.kind, channel, short_error(error))
    return outcome


def deliver(
    alert: Alert, channels: tuple[str, ...], post: Callable[[str, Alert], None], now: datetime | None = None
) -> dict[str, str]:
    """Dispatch the alert through the control store, else the machine's, else post it untracked (see the module
    docstring). Returns channel -> sent / held:<reason> / failed; never raises."""
    outcome: dict[str, str] = {}
    try:
        with control_alert_store() as store:
            try:
                move_local_records(store, now=now)
            except Exception as error:  # noqa: BLE001 - they stay local; the next delivery tries again
                log.warning("alert records of this machine not moved yet: %s", short_error(error))
            return dispatch(alert, channels, store, post, now)
    except AlertStoreError as error:
        outcome.update(error.done)
        problem = str(error)
    except Exception as error:  # noqa: BLE001 - unreachable, timed out, lookup failed: decide on this machine
        problem = short_error(error)
    pending = tuple(c for c in channels if c not in outcome)
    log.warning(
        "control database unreachable (%s): alert %s for %s.%s decided on this machine",
        problem,
        alert.kind,
        alert.source,
        alert.entity,
    )
    try:
        with local_alert_store(fallback_db_path()) as store:
            outcome.update(dispatch(alert, pending, store, post, now, notice=LOCAL_NOTICE))
            return outcome
    except AlertStoreError as error:
        outcome.update(error.done)
        problem = str(error)
    except Exception as error:  # noqa: BLE001 - the file cannot be created or written: post untracked
        problem = short_error(error)
    pending = tuple(c for c in channels if c not in outcome)
    log.error("this machine's alert store is unusable too (%s): alert %s posted untracked", problem, alert.kind)
    outcome.update(_post_untracked(alert, pending, post))
    return outcome
