"""The control database's schema revisions on SQLite files: the migrations make exactly the tables of tables.py, a
database made before migrations existed is recognised and recorded without a row changed, and what is behind (or
ahead) is named with the command that fixes it. The same on Postgres: tests/integration/state/test_migrations.py."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select

from ingestion.state import schema
from ingestion.state.errors import ControlSchemaError
from ingestion.state.schema import TABLES_BEFORE_MIGRATIONS, VERSION_TABLE, alembic_config, revision_before_migrations
from ingestion.state.store import open_control_store
from ingestion.state.tables import metadata, watermarks

REPO = Path(__file__).resolve().parents[3]
RELEASED = set(TABLES_BEFORE_MIGRATIONS[0][1])
AIRFLOW_TABLES = {"alembic_version", "dag", "dag_run", "task_instance"}
HEAD = schema.head_revision()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'control.db'}")


def _upgrade_to(engine: Engine, revision: str) -> None:
    """Migrate to one revision (not head), as an older release of this code would have."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "include_name": schema.include_name, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def test_tables_made_before_migrations_are_matched_to_the_revision_that_has_them_all() -> None:
    assert revision_before_migrations(set()) is None
    assert revision_before_migrations(AIRFLOW_TABLES) is None  # a database shared with Airflow, no control table
    assert revision_before_migrations(RELEASED | AIRFLOW_TABLES) == "0001"
    assert revision_before_migrations(RELEASED | {"ingest_publish"}) == "0002"
    assert revision_before_migrations(RELEASED | {"ingest_publish", "ingest_boundary_key"}) == "0003"


@pytest.mark.parametrize(
    ("tables", "missing"),
    [
        (RELEASED - {"ingest_alert"}, "ingest_alert"),  # made by code older than the release and never opened since
        (RELEASED | {"ingest_boundary_key"}, "ingest_publish"),  # a later table without the one before it
    ],
)
def test_tables_no_release_made_are_refused_naming_what_is_missing(tables: set[str], missing: str) -> None:
    with pytest.raises(ControlSchemaError, match=f"match no released schema \\(missing: {missing}\\)"):
        revision_before_migrations(tables)


def test_each_revision_makes_the_tables_the_detection_expects_of_it(engine: Engine) -> None:
    expected = {VERSION_TABLE}
    for revision, tables in TABLES_BEFORE_MIGRATIONS:
        _upgrade_to(engine, revision)
        expected |= tables
        assert set(inspect(engine).get_table_names()) == expected, revision


def test_the_migrations_make_exactly_the_tables_of_tables_py(engine: Engine) -> None:
    done = schema.upgrade(engine)
    assert (done.before, done.after, done.recorded) == (None, schema.head_revision(), None)
    assert _differences(engine) == []
    assert schema.schema_state(engine).at_head


def test_the_comparison_sees_a_table_that_drifted_from_tables_py(engine: Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_ingest_boundary_key_run")
    assert [d[0] for d in _differences(engine)] == ["add_index"]  # the test above can fail


def test_a_database_made_by_create_all_is_recorded_at_its_revision_with_no_row_changed(engine: Engine) -> None:
    # What every open did before migrations existed, with the tables of that time (0003's): later tables came with
    # migrations only.
    made_then = set().union(*(tables for revision, tables in TABLES_BEFORE_MIGRATIONS if revision <= "0003"))
    metadata.create_all(engine, tables=[t for t in metadata.sorted_tables if t.name in made_then])
    row = {"source": "crm", "entity": "orders", "value": "42", "value_type": "integer", "updated_at": datetime.now(UTC)}
    with engine.begin() as conn:
        conn.execute(insert(watermarks).values(row))
    assert "made before schema migrations existed" in schema.schema_state(engine).problem()

    done = schema.upgrade(engine)
    assert (done.recorded, done.before, done.after) == ("0003", "0003", schema.head_revision())
    with engine.connect() as conn:
        assert conn.execute(select(watermarks.c.value)).scalars().all() == ["42"]
    assert schema.schema_state(engine).current == schema.head_revision()
    assert _differences(engine) == []


def test_a_released_database_is_recorded_at_0001_and_upgraded(engine: Engine) -> None:
    with engine.begin() as conn:
        for name in sorted(RELEASED):
            metadata.tables[name].create(conn)
    done = schema.upgrade(engine)
    assert (done.recorded, done.before, done.after) == ("0001", "0001", schema.head_revision())
    assert _differences(engine) == []


@pytest.mark.parametrize(
    ("prepare", "says"),
    [
        (lambda e: None, f"has no control tables yet; this code needs schema revision {HEAD}: run `scripts/ingest db"),
        (
            lambda e: _upgrade_to(e, "0001"),
            f"is at revision 0001; this code needs {HEAD}: run `scripts/ingest db upgrade`",
        ),
        (lambda e: metadata.create_all(e), "made before schema migrations existed (no ingest_alembic_version table)"),
    ],
    ids=["empty", "at 0001", "before migrations"],
)
def test_a_database_behind_this_code_is_refused_naming_the_upgrade(engine: Engine, prepare: Any, says: str) -> None:
    prepare(engine)
    with pytest.raises(ControlSchemaError) as raised:
        schema.require_head(engine)
    assert says in str(raised.value)


def _record_revision(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '{revision}'")


def test_a_database_newer_code_migrated_is_refused_and_left_alone(engine: Engine) -> None:
    schema.upgrade(engine)
    _record_revision(engine, "0099")
    with pytest.raises(ControlSchemaError, match="at revision 0099, which this code does not know"):
        schema.require_head(engine)
    with pytest.raises(ControlSchemaError, match="which this code does not know"):
        schema.upgrade(engine)
    assert schema.schema_state(engine).current == "0099"


def test_a_stage_upgrades_an_sqlite_control_db_it_opens(tmp_path: Path, engine: Engine) -> None:
    _upgrade_to(engine, "0001")
    with open_control_store(f"sqlite:///{tmp_path / 'control.db'}") as store:
        assert store.list_watermarks() == []
    assert schema.schema_state(engine).at_head


def ingest_db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), "db", *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_ingest_db_upgrade_prints_from_and_to_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'control.db'}"
    current = ingest_db("current", "--db-url", url)
    assert (current.returncode, current.stdout) == (1, "none\n")
    assert "run `scripts/ingest db upgrade`" in current.stderr

    first = ingest_db("upgrade", "--db-url", url)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"control DB schema: none -> {HEAD} (upgraded)\n"
    again = ingest_db("--db-url", url, "upgrade")
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"control DB schema: {HEAD} -> {HEAD} (already this code's newest revision: nothing to do)\n"
    current = ingest_db("current", "--db-url", url)
    assert (current.returncode, current.stdout) == (0, f"{HEAD}\n")


def test_compose_upgrades_the_control_db_before_airflow_serves() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    init = compose["services"]["airflow-init"]["command"][-1]
    assert init.startswith("airflow db migrate && python -m ingestion db upgrade && ")
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert compose["services"][name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
