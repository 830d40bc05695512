"""Which control database a process uses: the order of the settings, and that a lookup which fails never falls back.

Airflow's side (the connection lookup and the list of secrets backends) is replaced by plain functions here; the
integration test `tests/integration/state/test_control_db_resolution.py` drives the real Airflow lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.errors import IngestionError, TerminalError
from ingestion.state import engine
from ingestion.state.engine import control_db_url, resolve_control_db
from ingestion.state.errors import ControlDbConfigError, ControlDbLookupError
from ingestion.state.store import open_control_store

STACK_URL = "postgresql+psycopg://ingest:s3cret-pw@db.internal:5432/control"
ENV_ONLY = ("EnvironmentVariablesBackend",)
IN_A_WORKER = ("EnvironmentVariablesBackend", "ExecutionAPISecretsBackend")
WITH_VAULT = ("VaultBackend", "EnvironmentVariablesBackend")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with nothing configured: an empty AIRFLOW_HOME and no control DB setting of any kind."""
    for name in ("INGEST_CONTROL_DB_URL", "INGEST_CONTROL_CONN_ID", "AIRFLOW_CONN_CONTROL_DB", "INGEST_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setattr(engine, "airflow_secrets_backends", lambda: ENV_ONLY)
    return tmp_path / "airflow"


def lookup(
    monkeypatch: pytest.MonkeyPatch, answer: str | Exception | None, seen: list[str] | None = None
) -> Callable[[str], str | None]:
    """Airflow's connection lookup answers `answer` (a URL; None: not defined; an exception: raised)."""

    def fake(conn_id: str) -> str | None:
        if seen is not None:
            seen.append(conn_id)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(engine, "airflow_connection_url", fake)
    return fake


def test_an_explicit_url_wins_then_the_variable_then_the_connection(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    lookup(monkeypatch, STACK_URL, seen)
    monkeypatch.setenv("INGEST_CONTROL_DB_URL", "postgresql+psycopg://u:p@from-env/control")
    assert control_db_url("sqlite:///explicit.db") == "sqlite:///explicit.db"
    assert control_db_url() == "postgresql+psycopg://u:p@from-env/control"
    assert seen == []  # neither looked the connection up
    monkeypatch.delenv("INGEST_CONTROL_DB_URL")
    chosen = resolve_control_db()
    assert (chosen.url, chosen.origin) == (STACK_URL, "Airflow connection 'control_db'")
    monkeypatch.setenv("INGEST_CONTROL_CONN_ID", "platform_state")
    assert resolve_control_db().origin == "Airflow connection 'platform_state'"
    assert seen == ["control_db", "platform_state"]


def test_what_is_shown_of_the_chosen_database_has_no_user_or_password(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookup(monkeypatch, STACK_URL)
    chosen = resolve_control_db()
    assert chosen.describe() == "postgresql+psycopg://db.internal:5432/control (Airflow connection 'control_db')"
    assert "s3cret" not in repr(chosen)
    assert "ingest" not in chosen.describe().replace("postgresql", "")


@pytest.mark.parametrize("ingest_env", [None, "local"])
def test_embedded_sqlite_only_where_nothing_is_configured_at_all(
    home: Path, monkeypatch: pytest.MonkeyPatch, ingest_env: str | None
) -> None:
    if ingest_env is not None:
        monkeypatch.setenv("INGEST_ENV", ingest_env)
    lookup(monkeypatch, None)
    chosen = resolve_control_db()
    assert chosen.url == f"sqlite:///{home / 'ingest_control.db'}"
    assert chosen.origin.startswith("embedded SQLite")


@pytest.mark.parametrize("ingest_env", ["dev", "prod"])
def test_a_deployed_environment_never_falls_back(home: Path, monkeypatch: pytest.MonkeyPatch, ingest_env: str) -> None:
    monkeypatch.setenv("INGEST_ENV", ingest_env)
    lookup(monkeypatch, None)
    with pytest.raises(ControlDbConfigError) as raised:
        resolve_control_db()
    assert isinstance(raised.value, TerminalError)
    message = str(raised.value)
    assert "'control_db'" in message
    assert "INGEST_CONTROL_DB_URL" in message
    assert "AIRFLOW_CONN_CONTROL_DB" in message
    assert not home.exists()


def test_an_unparsable_connection_variable_is_a_config_error_that_does_not_echo_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Airflow cannot parse the variable, logs that at debug level and reports the connection as not defined.
    monkeypatch.setenv("AIRFLOW_CONN_CONTROL_DB", '{"conn_type": "postgres", "password": "s3cret-pw", "host"')
    lookup(monkeypatch, None)
    with pytest.raises(ControlDbConfigError, match="AIRFLOW_CONN_CONTROL_DB is set, but Airflow cannot read it"):
        resolve_control_db()
    with pytest.raises(ControlDbConfigError) as raised:
        resolve_control_db()
    assert "s3cret" not in str(raised.value)
    assert not home.exists()


def test_a_failing_lookup_is_a_retriable_error_and_creates_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup(monkeypatch, ConnectionError(f"cannot reach the secrets store for {STACK_URL}"))
    with pytest.raises(ControlDbLookupError) as raised:
        resolve_control_db()
    assert isinstance(raised.value, IngestionError)
    assert not isinstance(raised.value, TerminalError)
    message = str(raised.value)
    assert "'control_db'" in message
    assert "ConnectionError" in message
    assert "s3cret" not in message
    assert "db.internal" not in message
    assert not home.exists()


@pytest.mark.parametrize("backends", [WITH_VAULT, IN_A_WORKER], ids=["secrets-backend", "worker"])
def test_not_defined_through_a_backend_that_may_have_failed_is_retriable_and_never_sqlite(
    home: Path, monkeypatch: pytest.MonkeyPatch, backends: tuple[str, ...]
) -> None:
    # Airflow reports a backend that raised as "not defined" too, so "not defined" from Vault or the API server may
    # be an outage: never the embedded SQLite with a custom backend; in a deployment, an error worth a retry.
    monkeypatch.setattr(engine, "airflow_secrets_backends", lambda: backends)
    lookup(monkeypatch, None)
    if backends == WITH_VAULT:
        with pytest.raises(ControlDbLookupError, match="VaultBackend"):
            resolve_control_db()
        assert not home.exists()
    monkeypatch.setenv("INGEST_ENV", "prod")
    with pytest.raises(ControlDbLookupError, match="'control_db'"):
        resolve_control_db()
    assert not home.exists()


def test_a_caller_that_refuses_to_guess_gets_an_error_where_sqlite_would_do(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookup(monkeypatch, None)
    with pytest.raises(ControlDbConfigError, match="no control database is configured"):
        resolve_control_db(allow_embedded=False)
    assert not home.exists()


def test_a_connection_named_in_ingest_control_conn_id_must_exist(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_CONTROL_CONN_ID", "platform_state")
    lookup(monkeypatch, None)
    with pytest.raises(ControlDbConfigError, match="connection 'platform_state' as not defined"):
        resolve_control_db()
    assert not home.exists()


def test_a_task_whose_lookup_raises_fails_and_creates_no_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lookup(monkeypatch, TimeoutError("secrets backend timed out"))
    with pytest.raises(ControlDbLookupError), open_control_store():
        pytest.fail("the control store must not open")
    assert not (home / "ingest_control.db").exists()


def test_a_url_sqlalchemy_cannot_parse_is_named_without_being_echoed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_CONTROL_DB_URL", "postgres ql://ingest:s3cret-pw@db.internal/control")
    with pytest.raises(ControlDbConfigError, match="INGEST_CONTROL_DB_URL") as raised:
        engine.control_engine()
    assert "s3cret" not in str(raised.value)
