"""A control DB that cannot be resolved fails loudly and never turns into a private SQLite file, with Airflow's real
connection lookup in a process of its own (the CLI as users run it, and a stage's `open_control_store()`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
UNREACHABLE_BACKEND = "tests.integration.state.unreachable_secrets_backend.UnreachableSecretsBackend"
# A password an unparsable connection carries: no output may show it.
BROKEN_CONNECTION = '{"conn_type": "postgres", "host": "127.0.0.1", "password": "pw-must-not-leak", "port": '
OPEN_STORE = "from ingestion.state.store import open_control_store\nwith open_control_store():\n    print('opened')\n"


def bare_env(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any control DB setting or Airflow config, a fresh AIRFLOW_HOME, plus
    `settings`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "INGEST_CONTROL_")) and k not in {"INGEST_ENV", "PYTHONPATH"}
    }
    env.update(AIRFLOW_HOME=str(home), PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'plugins'}", **settings)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_watermark_show_with_an_unparsable_connection_exits_non_zero_and_creates_no_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    env = bare_env(home, AIRFLOW_CONN_CONTROL_DB=BROKEN_CONNECTION)
    done = run([str(REPO / "scripts" / "ingest"), "watermark", "show", "crm"], env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "AIRFLOW_CONN_CONTROL_DB is set, but Airflow cannot read it" in done.stderr
    assert "pw-must-not-leak" not in done.stdout + done.stderr
    assert not (home / "ingest_control.db").exists()


def test_status_without_any_control_db_says_where_it_looked_and_creates_no_sqlite(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    done = run([str(REPO / "scripts" / "ingest"), "status"], bare_env(home))
    assert done.returncode == 2, done.stdout + done.stderr
    for where in ("--db-url", "INGEST_CONTROL_DB_URL", "'control_db'", "source .stack/env"):
        assert where in done.stderr, done.stderr
    assert "NEVER" not in done.stdout
    assert not (home / "ingest_control.db").exists()


def test_a_stage_whose_secrets_backend_is_down_fails_and_creates_no_sqlite(tmp_path: Path) -> None:
    # The reported incident: Airflow logs the backend's error at debug level and says "not defined"; the stage must
    # fail (and may retry), never carry on with an empty private control DB that reloads every entity.
    home = tmp_path / "airflow"
    env = bare_env(home, AIRFLOW__SECRETS__BACKEND=UNREACHABLE_BACKEND)
    done = run([sys.executable, "-c", OPEN_STORE], env)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "opened" not in done.stdout
    assert "ControlDbLookupError" in done.stderr
    assert "UnreachableSecretsBackend" in done.stderr
    assert "'control_db'" in done.stderr
    assert not (home / "ingest_control.db").exists()


def test_a_configured_connection_is_used_and_named_on_stderr_without_its_password(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    env = bare_env(home, AIRFLOW_CONN_CONTROL_DB=os.environ["AIRFLOW_CONN_CONTROL_DB"])
    done = run([str(REPO / "scripts" / "ingest"), "watermark", "show", "crm"], env)
    assert done.returncode == 0, done.stderr
    assert "control DB: postgresql+psycopg://127.0.0.1:" in done.stderr
    assert "(Airflow connection 'control_db')" in done.stderr
    assert ":ingest@" not in done.stderr
    assert not (home / "ingest_control.db").exists()
