"""Upgrading a control database made by the released code (tables by `create_all`, no version table) to this code's
schema with `scripts/ingest db upgrade`, on the stack's Postgres (a schema of the test's own) and on SQLite: every row
survives, the new tables are there, the schema equals tables.py, and a second upgrade changes nothing. A stage that
opens a Postgres control database behind this code fails at once, naming the upgrade."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Engine, MetaData, create_engine, insert, inspect, select

from ingestion.state import schema
from ingestion.state.errors import ControlSchemaError
from ingestion.state.schema import VERSION_TABLE, alembic_config
from ingestion.state.store import open_control_store
from ingestion.state.tables import boundary_keys, metadata, publishes
from tests.integration.state import released_tables as released

REPO = Path(__file__).resolve().parents[3]
HEAD = schema.head_revision()
T0 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)

# A row in every table of the released schema, with the awkward values: NULLs, JSON, booleans, big integers.
RELEASED_ROWS: dict[str, list[dict[str, Any]]] = {
    "ingest_watermark": [
        {"source": "crm", "entity": "orders", "value": "2026-11-03T02:00:00+00:00", "run_id": "r1", "updated_at": T0},
        {"source": "crm", "entity": "customers", "value": None, "value_type": "integer", "updated_at": T0},
    ],
    "ingest_watermark_history": [
        {
            "source": "crm",
            "entity": "orders",
            "old_value": None,
            "new_value": "2026-11-03T02:00:00+00:00",
            "value_type": "timestamp",
            "run_id": "r1",
            "changed_at": T0,
            "changed_by": "airflow:ingest_crm",
            "reason": "run r1",
        }
    ],
    "ingest_entity_run": [
        {
            "source": "crm",
            "entity": "orders",
            "run_id": "r1",
            "dag_id": "ingest_crm",
            "load_mode": "incremental",
            "window_start": "2026-11-02T02:00:00+00:00",
            "window_end": "2026-11-03T02:00:00+00:00",
            "rows_extracted": 85,
            "rows_landed": 85,
            "rows_published": 85,
            "bytes_landed": 12_345_678_901,
            "seconds_extract_land": 1.5,
            "files": ["landing/crm/orders/date=2026-11-03/crm_orders_20261103020000.parquet"],
            "check_results": [{"name": "not_null(order_id)", "passed": True}],
            "moved_watermark": True,
            "committed_at": T0,
        }
    ],
    "ingest_check_result": [
        {
            "source": "crm",
            "entity": "orders",
            "run_id": "r1",
            "check_name": "not_null(order_id)",
            "kind": "not_null",
            "severity": "error",
            "passed": False,
            "detail": "2 null(s)",
            "observed": {"nulls": 2},
            "checked_at": T0,
        }
    ],
    "ingest_alert": [
        {
            "dedup_key": "failure|crm|orders|orders.extract_land",
            "kind": "failure",
            "severity": "high",
            "source": "crm",
            "entity": None,
            "channel": "teams_alerts",
            "status": "held",
            "reason": "duplicate",
            "alert": {"kind": "failure", "title": "crm.orders: extract_land failed", "counts": {}},
            "created_at": T0,
        }
    ],
    "ingest_processed_file": [
        {
            "source": "partner_files",
            "entity": "orders",
            "file_name": "orders_2026-11-02.csv.gz",
            "mtime": T0,
            "size": 2048,
            "rows": 2,
            "run_id": "r1",
            "processed_at": T0,
        }
    ],
}


def _postgres_url(stack_env: dict[str, str], search_path: str) -> URL:
    conn = json.loads(stack_env["AIRFLOW_CONN_CONTROL_DB"])
    return URL.create(
        "postgresql+psycopg",
        username=conn["login"],
        password=conn["password"],
        host=conn["host"],
        port=conn["port"],
        database=conn["schema"],
        query={"options": f"-csearch_path={search_path}"},
    )


@pytest.fixture(params=["postgres", "sqlite"])
def empty_db(request: pytest.FixtureRequest, stack_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of the test's own: a fresh schema of the stack's control database (alone on the
    search path, dropped afterwards), or an SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'control.db'}"
        return
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    url = _postgres_url(stack_env, name)
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        yield url.render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture
def engine(empty_db: str) -> Iterator[Engine]:
    engine = create_engine(empty_db)
    yield engine
    engine.dispose()


def _snapshot(engine: Engine, tables: MetaData) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of `tables`, in key order."""
    with engine.connect() as conn:
        return {
            name: [dict(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]
            for name, table in tables.tables.items()
        }


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "include_name": schema.include_name, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def ingest_db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), "db", *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_upgrade_keeps_every_row_of_a_released_database_and_is_idempotent(empty_db: str, engine: Engine) -> None:
    released.metadata.create_all(engine)  # what every open of the released code did
    with engine.begin() as conn:
        for name, rows in RELEASED_ROWS.items():
            for row in rows:  # one by one: the rows leave different columns to their defaults
                conn.execute(insert(released.metadata.tables[name]).values(row))
    before = _snapshot(engine, released.metadata)
    assert set(before) == set(RELEASED_ROWS)  # a row in every released table
    assert all(before.values())

    first = ingest_db("upgrade", "--db-url", empty_db)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "tables made before schema migrations recorded at revision 0001 (no row changed)",
        f"control DB schema: 0001 -> {HEAD} (upgraded)",
    ]
    assert _snapshot(engine, released.metadata) == before
    assert {"ingest_publish", "ingest_boundary_key", VERSION_TABLE} <= set(inspect(engine).get_table_names())
    assert _differences(engine) == []
    with engine.begin() as conn:  # the new tables take rows
        conn.execute(
            insert(publishes).values(
                source="crm",
                entity="orders",
                run_id="r2",
                landing_id="l2",
                manifest="m",
                topic="ingest.crm.orders",
                moves_watermark=True,
                started_at=T0,
            )
        )
        conn.execute(
            insert(boundary_keys).values(source="crm", entity="orders", run_id="r2", cursor_value="v", row_key="1")
        )
    everything = _snapshot(engine, metadata)

    again = ingest_db("upgrade", "--db-url", empty_db)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"control DB schema: {HEAD} -> {HEAD} (already this code's newest revision: nothing to do)\n"
    assert _snapshot(engine, metadata) == everything
    current = ingest_db("current", "--db-url", empty_db)
    assert (current.returncode, current.stdout) == (0, f"{HEAD}\n")


def test_the_migrations_make_exactly_the_tables_of_tables_py(engine: Engine) -> None:
    assert schema.upgrade(engine).after == schema.head_revision()
    assert _differences(engine) == []


def _upgrade_to(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


@pytest.mark.parametrize("empty_db", ["postgres"], indirect=True)
def test_a_stage_refuses_a_postgres_control_db_behind_this_code(empty_db: str, engine: Engine) -> None:
    _upgrade_to(engine, "0001")
    with pytest.raises(ControlSchemaError) as raised, open_control_store(empty_db):
        pass
    assert str(raised.value) == (
        f"the control database's schema is at revision 0001; this code needs {HEAD}: run `scripts/ingest db upgrade` "
        "against it (a deploy runs it before the new code serves)"
    )
    assert "ingest_publish" not in inspect(engine).get_table_names()  # nothing was changed on the way
    cli = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "watermark", "--db-url", empty_db, "show"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert cli.returncode == 2
    assert f"is at revision 0001; this code needs {HEAD}: run `scripts/ingest db upgrade`" in cli.stderr

    assert ingest_db("upgrade", "--db-url", empty_db).returncode == 0
    with open_control_store(empty_db) as store:
        assert store.list_watermarks() == []


@pytest.mark.parametrize("empty_db", ["postgres"], indirect=True)
def test_concurrent_upgrades_take_turns(empty_db: str) -> None:
    """Several deploy jobs upgrading one database at the same moment: one upgrades, the others wait and find it done
    (without the lock, all but one fail on tables that already exist)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.state.upgrade_process", empty_db],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise AssertionError(f"a process did not start: {proc.communicate(timeout=60)[1][-3000:]}")
        for proc in procs:  # all have loaded the migrations and wait: let them go together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        finished = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    failed = [err[-3000:] for proc, (_, err) in zip(procs, finished, strict=True) if proc.returncode != 0]
    assert not failed, failed[0]
    done = [json.loads(out.rpartition("outcome ")[2]) for out, _ in finished]
    assert sorted(d["before"] or "none" for d in done) == [HEAD, HEAD, HEAD, "none"]
    assert {d["after"] for d in done} == {HEAD}


@pytest.mark.parametrize("empty_db", ["postgres"], indirect=True)
def test_an_alert_while_the_schema_is_behind_goes_out_and_its_record_moves_in_after_the_upgrade(
    empty_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.notify.delivery import LOCAL_NOTICE, deliver, move_local_records
    from ingestion.state.store import ControlStore
    from ingestion.state.tables import alerts
    from tests.integration.notify.alert_process import failure_alert

    _upgrade_to(engine, "0001")
    monkeypatch.setenv("INGEST_CONTROL_DB_URL", empty_db)
    monkeypatch.setenv("INGEST_ALERT_FALLBACK_DB", str(tmp_path / "fallback.db"))
    posts: list[str] = []
    outcome = deliver(failure_alert("crm", "orders"), ("teams_alerts",), lambda _, alert: posts.append(alert.notice))
    assert (outcome, posts) == ({"teams_alerts": "sent"}, [LOCAL_NOTICE])  # decided on this machine, and posted
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.id)).all() == []  # this code wrote nothing into a schema it does not know

    schema.upgrade(engine)
    assert move_local_records(ControlStore(engine)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.entity, alerts.c.status)).all() == [("orders", "sent")]
