"""Which control database a process uses: an explicit URL, `INGEST_CONTROL_DB_URL`, the Airflow connection, and the
embedded SQLite only on a machine where nothing is configured at all.

Resolved at execute time (never at parse time). The Airflow connection (`control_db`, or the id in
`INGEST_CONTROL_CONN_ID`) goes through its provider hook, so the driver (psycopg 3 for Postgres) and the secrets
backend are Airflow's.

A lookup that fails fails the caller: a worker that carried on with a private, empty SQLite file would reload every
entity from scratch and keep watermarks no one else sees. Airflow makes "not defined" ambiguous: a secrets backend
that raises is only logged (at debug level) and the lookup goes on to the next backend, so a backend outage, or an
`AIRFLOW_CONN_<ID>` variable it cannot parse, also ends in "not defined". Hence the embedded SQLite needs all of:
Airflow reports the connection as not defined, no `AIRFLOW_CONN_<ID>` variable and no `INGEST_CONTROL_CONN_ID` is
set, no secrets backend beyond Airflow's own is configured, `INGEST_ENV` (which also picks the config overlay) is
unset or `local`, and the caller allows it (the CLI never does). Errors name the connection id and the variables to
set, never a URL or password.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from ingestion.state.errors import ControlDbConfigError, ControlDbError, ControlDbLookupError

log = logging.getLogger(__name__)

CONTROL_DB_URL_ENV = "INGEST_CONTROL_DB_URL"
CONTROL_CONN_ID_ENV = "INGEST_CONTROL_CONN_ID"
DEFAULT_CONTROL_CONN_ID = "control_db"
# The variable that picks the config overlay (dev, prod): a process that sets it to anything but `local` is deployed.
DEPLOYMENT_ENV = "INGEST_ENV"
LOCAL_DEPLOYMENTS = frozenset({"", "local"})
# Secrets backends that come with Airflow. Any other one (Vault, AWS, ...) counts as configuration, and may be down.
AIRFLOW_OWN_BACKENDS = frozenset({"EnvironmentVariablesBackend", "ExecutionAPISecretsBackend", "MetastoreBackend"})
LOCAL_STACK_HINT = "for the local stack: `set -a; source .stack/env; set +a`"


@dataclass(frozen=True)
class ControlDb:
    """The resolved control database. `url` may hold a password: show `describe()` instead."""

    url: str = field(repr=False)
    origin: str

    def describe(self) -> str:
        """Where it is (driver, host, port, database: never user or password) and where the setting came from."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(self.url)
        except ArgumentError:
            return f"an unparsable URL ({self.origin})"
        if url.get_backend_name() == "sqlite":
            return f"sqlite:///{url.database or ''} ({self.origin})"
        port = f":{url.port}" if url.port else ""
        return f"{url.drivername}://{url.host or ''}{port}/{url.database or ''} ({self.origin})"


def conn_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def default_sqlite_path() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return home / "ingest_control.db"


def airflow_connection_url(conn_id: str) -> str | None:
    """The SQLAlchemy URL of Airflow connection `conn_id` (password included: never show it), or None when Airflow
    reports it as not defined or is not installed. Other lookup errors propagate; a connection that gives no
    database URL is a ControlDbConfigError."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # the CLI can run without Airflow installed
        return None
    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    except PermissionError:  # AirflowSecretsBackendAccessDenied: an authoritative "no", not an outage
        raise ControlDbConfigError(
            f"the secrets backend refused access to the Airflow connection {conn_id!r} (the control database): grant "
            f"this deployment access to it, or set {CONTROL_DB_URL_ENV}"
        ) from None
    kind = connection.conn_type
    try:
        url = getattr(connection.get_hook(), "sqlalchemy_url", None)
    except Exception as exc:  # noqa: BLE001 - any hook failure means this connection cannot be the control database
        # from None: the hook's message may quote the connection's URI.
        raise ControlDbConfigError(
            f"the Airflow connection {conn_id!r} (type {kind!r}) cannot give the control database's URL "
            f"({type(exc).__name__}): use a database connection (postgres, mysql), or set {CONTROL_DB_URL_ENV}"
        ) from None
    if url is None:
        raise ControlDbConfigError(
            f"the Airflow connection {conn_id!r} is of type {kind!r}, whose hook gives no SQLAlchemy URL: the control "
            f"database needs a database connection (postgres, mysql), or set {CONTROL_DB_URL_ENV}"
        )
    return str(url.render_as_string(hide_password=False))


def airflow_secrets_backends() -> tuple[str, ...]:
    """Class names of the secrets backends Airflow's connection lookup asks in this process, in order."""
    try:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded
    except ImportError:
        return ()
    try:
        return tuple(type(backend).__name__ for backend in ensure_secrets_backend_loaded())
    except Exception as exc:  # noqa: BLE001 - a backend that cannot even load is configured, and broken
        return (f"a secrets backend that failed to load ({type(exc).__name__})",)


def resolve_control_db(explicit: str | None = None, *, allow_embedded: bool = True) -> ControlDb:
    """The control database: `explicit`, else `INGEST_CONTROL_DB_URL`, else the Airflow connection, else (only when
    nothing is configured at all, outside a deployment, and `allow_embedded`) the SQLite file in `$AIRFLOW_HOME`.
    Raises ControlDbConfigError (terminal) or ControlDbLookupError (may pass) instead of guessing."""
    if explicit:
        return ControlDb(explicit, "the explicit URL")
    if value := os.environ.get(CONTROL_DB_URL_ENV, "").strip():
        return ControlDb(value, f"${CONTROL_DB_URL_ENV}")
    conn_id = os.environ.get(CONTROL_CONN_ID_ENV, "").strip() or DEFAULT_CONTROL_CONN_ID
    try:
        url = airflow_connection_url(conn_id)
    except ControlDbError:
        raise
    except Exception as exc:
        # Whatever the backend raised, it is not "not defined". Its message is not repeated here (it could quote a
        # URI); the chained exception keeps it for the task log.
        raise ControlDbLookupError(
            f"looking up the Airflow connection {conn_id!r} (the control database) failed ({type(exc).__name__}); "
            f"this may pass, so the task may retry. If it persists, check the secrets backend, or set "
            f"{CONTROL_DB_URL_ENV}"
        ) from exc
    if url is not None:
        return ControlDb(url, f"Airflow connection {conn_id!r}")
    return _when_not_defined(conn_id, allow_embedded=allow_embedded)


def _when_not_defined(conn_id: str, *, allow_embedded: bool) -> ControlDb:
    variable = conn_env_var(conn_id)
    if os.environ.get(variable, "").strip():
        raise ControlDbConfigError(
            f"{variable} is set, but Airflow cannot read it as a connection (a URI such as "
            "postgresql://user:password@host:5432/db, or a JSON object with conn_type), so it reports the control "
            f"database's connection {conn_id!r} as not defined: fix the variable, or unset it and set "
            f"{CONTROL_DB_URL_ENV}"
        )
    backends = airflow_secrets_backends()
    custom = [name for name in backends if name not in AIRFLOW_OWN_BACKENDS]
    deployment = os.environ.get(DEPLOYMENT_ENV, "").strip()
    named = bool(os.environ.get(CONTROL_CONN_ID_ENV, "").strip())  # someone named a connection: they expect it
    if allow_embedded and not custom and not named and deployment.lower() in LOCAL_DEPLOYMENTS:
        path = default_sqlite_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        log.warning(
            "no control database is configured on this machine (%s, Airflow connection %r, %s): using the embedded "
            "SQLite file %s",
            CONTROL_DB_URL_ENV,
            conn_id,
            variable,
            path,
        )
        return ControlDb(f"sqlite:///{path}", f"embedded SQLite: nothing configured, {DEPLOYMENT_ENV} unset or local")
    how = (
        f"set {CONTROL_DB_URL_ENV}, or define the Airflow connection {conn_id!r} ({variable}, Admin > Connections "
        f"or the secrets backend; another id: {CONTROL_CONN_ID_ENV}); {LOCAL_STACK_HINT}"
    )
    if any(name != "EnvironmentVariablesBackend" for name in backends):
        raise ControlDbLookupError(
            f"Airflow reports the connection {conn_id!r} (the control database) as not defined after asking "
            f"{', '.join(backends)}; it says the same when a secrets backend fails (it logs the error at debug "
            f"level), so this may be an outage that passes (a task fails and retries). If the connection is really "
            f"missing: {how}"
        )
    why = "" if allow_embedded else "; this command never falls back to the embedded SQLite"
    if allow_embedded and deployment:
        why = f"; the embedded SQLite is only for a machine with {DEPLOYMENT_ENV} unset or local, not {deployment!r}"
    raise ControlDbConfigError(
        f"no control database is configured: {CONTROL_DB_URL_ENV} is not set and Airflow reports the connection "
        f"{conn_id!r} as not defined{why}. To point at one, {how}"
    )


def control_db_url(explicit: str | None = None) -> str:
    return resolve_control_db(explicit).url


# Seconds to wait for the control DB to accept a connection (libpq's and MySQL's connect_timeout).
CONNECT_TIMEOUT_SECONDS = 15
TIMEOUT_BACKENDS = frozenset({"postgresql", "mysql", "mariadb"})


def engine_for(control_db: ControlDb) -> Engine:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(control_db.url)
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() in TIMEOUT_BACKENDS and "connect_timeout" not in url.query:
            # Without it, a host that drops packets or a server that accepts and never answers holds the command or
            # the task until the OS gives up (minutes); a URL's own connect_timeout wins.
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        # pool_pre_ping: a task may hold the engine across a database restart.
        return create_engine(url, pool_pre_ping=True, future=True, connect_args=connect_args)
    except ArgumentError:  # its message quotes the URL, password and all
        raise ControlDbConfigError(
            f"the control database URL from {control_db.origin} is not a SQLAlchemy URL "
            "(dialect+driver://user:password@host:port/database)"
        ) from None


def control_engine(explicit_url: str | None = None, *, allow_embedded: bool = True) -> Engine:
    return engine_for(resolve_control_db(explicit_url, allow_embedded=allow_embedded))
