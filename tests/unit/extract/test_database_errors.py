"""A source database's error is said by its code and first line, values masked, and classed retryable or not. Pure:
the drivers' own exception classes, built as the drivers raise them. The same with the stack's real Postgres and
MariaDB: tests/integration/extract/test_database_errors.py."""

from __future__ import annotations

import MySQLdb
import psycopg
import pytest
import sqlalchemy.exc

from ingestion.extract.database_errors import database_error, database_errors_said_safely, is_database_error
from ingestion.extract.errors import SourceDatabaseError, SourceDatabaseUnavailableError

CANARY = "ana.canary@example.org"


def _wrapped(orig: BaseException) -> BaseException:
    """As SQLAlchemy raises it: the statement and its bound parameters in the text, the driver's error as `orig`."""
    return sqlalchemy.exc.DBAPIError.instance(
        "SELECT id FROM crm.customers WHERE email >= %(email)s", {"email": CANARY}, orig, psycopg.Error
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            psycopg.errors.InvalidTextRepresentation(f'invalid input syntax for type integer: "{CANARY}"'),
            "(SQLSTATE 22P02): invalid input syntax for type integer: …",
        ),
        (
            psycopg.errors.UniqueViolation(
                f'duplicate key value violates unique constraint "k"\nDETAIL:  Key (email)=({CANARY}) already exists.'
            ),
            "(SQLSTATE 23505): duplicate key value violates unique constraint …",
        ),
        (
            MySQLdb.DataError(1366, f"Incorrect integer value: '{CANARY}' for column 'phone' at row 1"),
            "(error 1366): Incorrect integer value: … for column 'phone' at row 1",
        ),
        (
            MySQLdb.IntegrityError(1062, f"Duplicate entry '{CANARY}' for key 'email'"),
            "(error 1062): Duplicate entry … for key 'email'",
        ),
    ],
)
def test_a_data_error_names_its_code_and_never_the_value(error: BaseException, expected: str) -> None:
    for raised in (error, _wrapped(error)):
        said = database_error("crm.customers", raised)
        assert isinstance(said, SourceDatabaseError)  # terminal: the same rows fail the same way
        assert str(said).startswith(f"crm.customers: the source database refused the read {expected}")
        assert CANARY not in str(said)
        assert "DETAIL" not in str(said)


def test_names_that_tell_what_is_wrong_are_kept_outside_data_errors() -> None:
    said = database_error(
        "crm.customers", _wrapped(psycopg.errors.UndefinedTable('relation "crm.custmers" does not exist'))
    )
    assert isinstance(said, SourceDatabaseError)
    assert '(SQLSTATE 42P01): relation "crm.custmers" does not exist' in str(said)
    assert "SELECT" not in str(said)  # neither the statement nor its parameters


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.SerializationFailure("could not serialize access due to concurrent update"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.OperationalError("connection failed: Connection refused"),
        MySQLdb.OperationalError(2013, "Lost connection to server during query"),
        MySQLdb.OperationalError(1213, "Deadlock found when trying to get lock"),
    ],
)
def test_a_connection_or_concurrency_failure_is_retried(error: BaseException) -> None:
    assert isinstance(database_error("shop.orders", _wrapped(error)), SourceDatabaseUnavailableError)


def test_the_context_raises_the_safe_error_without_the_original_in_the_chain() -> None:
    with pytest.raises(SourceDatabaseError) as failure, database_errors_said_safely("crm.customers"):
        raise _wrapped(psycopg.errors.InvalidDatetimeFormat(f'invalid input syntax for type date: "{CANARY}"'))
    assert failure.value.__cause__ is None
    assert failure.value.__suppress_context__
    with pytest.raises(KeyError), database_errors_said_safely("crm.customers"):  # not a database's: as it was
        raise KeyError("x")
    assert is_database_error(MySQLdb.DataError(1366, "x"))
    assert not is_database_error(ValueError("x"))


def test_adbcs_libpq_text_is_said_with_every_quoted_part_masked() -> None:
    text = f'[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  invalid input syntax for type integer: "{CANARY}"\n'
    said = database_error("crm.customers", OSError(text))
    assert isinstance(said, SourceDatabaseError)
    assert str(said).startswith(
        "crm.customers: the source database refused the read (libpq): invalid input syntax for type integer: …"
    )
    assert CANARY not in str(said)
    for retryable in (
        "[libpq] Failed to execute query: server closed the connection unexpectedly",
        "[libpq] Execution error [PGRES_FATAL_ERROR]: FATAL:  terminating connection due to administrator command",
        "[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  deadlock detected",
        "[libpq] Execution error [PGRES_FATAL_ERROR]: ERROR:  canceling statement due to statement timeout",
    ):
        assert is_database_error(OSError(retryable))
        assert isinstance(database_error("crm.customers", OSError(retryable)), SourceDatabaseUnavailableError)


def test_sqlalchemys_wrapper_of_a_non_driver_error_is_said_safely_too() -> None:
    # A value that cannot be bound fails in the driver's adaptation, wrapped by SQLAlchemy with the statement and the
    # parameters in its text; the wrapped error is a builtin, and its own text quotes the value.
    wrapped = sqlalchemy.exc.StatementError(
        f"invalid literal for int() with base 10: '{CANARY}'",
        "SELECT id FROM crm.customers WHERE id >= %(k)s",
        {"k": CANARY},
        ValueError(f"invalid literal for int() with base 10: '{CANARY}'"),
    )
    assert is_database_error(wrapped)
    said = database_error("crm.customers", wrapped)
    assert CANARY not in str(said)
    assert "(ValueError): invalid literal for int() with base 10: …" in str(said)
