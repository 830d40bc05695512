"""A source database's error, said without the values it quotes, and classed as retryable or not. Pure.

Drivers put data into their messages: Postgres quotes the text that did not parse (`invalid input syntax for type
integer: "ana@example.com"`) and a DETAIL line with the row's key (`Key (email)=(ana@example.com) already exists`);
MySQL quotes the value (`Incorrect integer value: 'ana@example.com' for column 'phone' at row 1`); and SQLAlchemy
appends the statement and its bound parameters (watermarks, the boundary's primary keys). Any of it would reach the
task log, the failure alert and the control DB. `database_error` keeps what tells an operator what went wrong: the
SQLSTATE or error number, the first line of the message, with quoted values masked when the error is about data.

Retryable: connection failures, deadlocks and serialization failures, a server shutting down or out of resources.
Everything else (a data error, a missing table or column, a permission or syntax error) fails the run at once: the
same query would fail the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ingestion.errors import IngestionError
from ingestion.extract.errors import SourceDatabaseError, SourceDatabaseUnavailableError

MASK = "…"
# SQLSTATE classes: 08 connection exception, 40 transaction rollback (deadlock, serialization), 53 insufficient
# resources, 57 operator intervention (admin shutdown, query canceled), 58 system error.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# SQLSTATE classes whose messages quote data: 22 data exception, 23 integrity constraint violation.
_DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})
# MySQL / MariaDB error numbers: server gone or unreachable, too many connections, lock wait timeout, deadlock.
_TRANSIENT_MYSQL_ERRNOS = frozenset({1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055})
# MySQL error numbers whose messages quote values: out of range, truncated, bad value for its type, duplicate entry,
# too long, bad datetime, bad string for the character set.
_DATA_MYSQL_ERRNOS = frozenset({1062, 1264, 1265, 1292, 1366, 1406, 1411, 3140})
# A quoted value; in MySQL's messages the names after `column` / `key` / `function` are identifiers, kept.
_QUOTED = re.compile(r"""(?<!column )(?<!key )(?<!function )("[^"]*"|'[^']*'|\([^()]*\)=\([^()]*\))""")


# ADBC's Postgres driver fails a stream being read as an Arrow I/O error holding libpq's text, with no SQLSTATE:
# `[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  invalid input syntax for type integer: "..."`.
_LIBPQ = re.compile(r"^\[libpq\]")
# libpq reports every failed statement as PGRES_FATAL_ERROR; the server's severity tells a refused statement
# (`ERROR:`) from a session the server ended (`FATAL:`, e.g. an admin shutdown). Among ERRORs, these are worth a retry.
_LIBPQ_RETRYABLE_ERRORS = re.compile(
    r"could not serialize access|deadlock detected|canceling statement due to|could not obtain lock", re.IGNORECASE
)


def _is_libpq_text(error: BaseException) -> bool:
    return isinstance(error, OSError) and bool(_LIBPQ.match(str(error)))


def _driver_error(exc: BaseException) -> BaseException:
    """The DB-API driver's own exception under SQLAlchemy's wrapper, if any."""
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def _sqlstate(error: BaseException) -> str | None:
    for name in ("sqlstate", "pgcode"):  # psycopg 3, psycopg2
        value = getattr(error, name, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def _mysql_errno(error: BaseException) -> int | None:
    args: Any = getattr(error, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _first_line(error: BaseException) -> str:
    args: Any = getattr(error, "args", ())
    text = args[1] if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str) else str(error)
    return (text.strip().splitlines() or [""])[0][:300]


def is_database_error(exc: BaseException) -> bool:
    """Whether `exc` comes from a database driver (DB-API) or SQLAlchemy's wrapper of one."""
    error = _driver_error(exc)
    module = type(error).__module__.split(".")[0]
    return (
        # SQLAlchemy's wrapper counts whatever it wraps (a StatementError may wrap a builtin ValueError raised while
        # binding parameters): its text holds the statement and the parameters.
        type(exc).__module__.split(".")[0] == "sqlalchemy"
        or module in {"psycopg", "psycopg2", "MySQLdb", "pymysql", "pymssql", "pyodbc", "sqlalchemy"}
        or module.startswith("adbc_driver")
        or _is_libpq_text(error)
    )


def database_error(where: str, exc: BaseException) -> SourceDatabaseError | SourceDatabaseUnavailableError:
    """The error to raise in place of `exc` (a driver's or SQLAlchemy's): its code and first line, values masked."""
    error = _driver_error(exc)
    if _is_libpq_text(error):
        return _libpq_error(where, str(error))
    sqlstate, errno = _sqlstate(error), _mysql_errno(error)
    line = _first_line(error)
    unknown = sqlstate is None and errno is None  # no code to tell data from names: mask every quoted part
    if unknown or (sqlstate and sqlstate[:2] in _DATA_SQLSTATE_CLASSES) or errno in _DATA_MYSQL_ERRNOS:
        line = _QUOTED.sub(MASK, line)
    code = f"SQLSTATE {sqlstate}" if sqlstate else f"error {errno}" if errno is not None else type(error).__name__
    transient = (sqlstate is not None and sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES) or (
        errno in _TRANSIENT_MYSQL_ERRNOS
    )
    if sqlstate is None and errno is None:
        # No code to go by: a connection that broke before the server said anything is worth another try.
        transient = type(error).__name__ in {"OperationalError", "InterfaceError"}
    message = f"{where}: the source database refused the read ({code}): {line}"
    if transient:
        return SourceDatabaseUnavailableError(message)
    return SourceDatabaseError(message + " (not retried: the same query would fail the same way)")


def _libpq_error(where: str, text: str) -> SourceDatabaseError | SourceDatabaseUnavailableError:
    """libpq's text without a code: every quoted part masked, as there is no telling data from names."""
    _, refused, server_said = text.partition("ERROR:")
    said = (server_said if refused else text).strip()
    line = said.splitlines()[0][:300] if said else ""
    message = f"{where}: the source database refused the read (libpq): {_QUOTED.sub(MASK, line)}"
    if refused and "FATAL:" not in text and not _LIBPQ_RETRYABLE_ERRORS.search(line):
        return SourceDatabaseError(message + " (not retried: the same query would fail the same way)")
    return SourceDatabaseUnavailableError(message)


@contextmanager
def database_errors_said_safely(where: str) -> Iterator[None]:
    """Re-raise a driver's or SQLAlchemy's error as `database_error` says it, without the original in the chain
    (Airflow logs a chained exception in full, statement and parameters included)."""
    try:
        yield
    except IngestionError:
        raise
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise database_error(where, exc) from None
