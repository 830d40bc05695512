"""`make demo`'s script, run for real on the stack with its own Airflow home: every demo DAG succeeds, on the
metadata DB `make airflow` serves (the stack's Postgres), and the sample DAGs are left unpaused for the UI.

The counts it checks are those of the samples' first run, so the demo gets a control DB of its own: other tests on this
stack (the Celery scheduler test, the deploy test) run the same samples and move their watermarks, in whatever order
the lanes take the modules."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.integration.support import fresh_database

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DAGS = ("ingest_crm", "ingest_orders_api", "ingest_partner_files")


def _airflow(env: dict[str, str], *args: str) -> str:
    """An `airflow` command in the demo's environment (scripts/airflow_env.sh over `env`)."""
    command = f"source scripts/airflow_env.sh && .venv/bin/airflow {' '.join(args)}"
    done = subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_demo_runs_end_to_end_and_prints_its_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    with fresh_database("control_demo") as control_db_url:
        env["INGEST_CONTROL_DB_URL"] = control_db_url  # before the stack's control_db connection (demo.sh keeps it)
        try:
            result = subprocess.run(
                ["bash", "scripts/demo.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
            )
            output = result.stdout + result.stderr
            assert result.returncode == 0, output[-4000:]
            # On the metadata DB `make airflow` serves, and unpaused there, so its scheduler and UI take them up.
            assert "preparing the Airflow metadata DB (the stack's Postgres, as make airflow)" in output
            assert f"unpausing {' '.join(SAMPLE_DAGS)} (local only)" in output
            listing = _airflow(env, "dags", "list", "--output", "json")  # after Airflow's own warnings, on one line
            listed = json.loads(next(line for line in listing.splitlines() if line.startswith("[")))
            assert {d["dag_id"]: d["is_paused"] for d in listed if d["dag_id"] in SAMPLE_DAGS} == dict.fromkeys(
                SAMPLE_DAGS, "False"
            )
        finally:
            # Other tests start schedulers on the same metadata DB: leave the sample DAGs paused for them.
            for dag_id in SAMPLE_DAGS:
                _airflow(env, "dags", "pause", dag_id)
    assert "platform_smoke_check  run manual__" in output
    assert "state=success" in output
    for task_id in (
        "read_postgres",
        "read_mysql",
        "write_lake",
        "produce_kafka",
        "list_sftp",
        "call_api",
        "post_alert",
    ):
        line = next(line for line in output.splitlines() if line.strip().startswith(task_id))
        assert " success " in line, line
    # ingest_crm, end to end: rows per stage, landed paths (general and sensitive zone) and topic offsets.
    assert "ingest_crm  run manual__" in output
    lines = output.splitlines()
    orders = next(line.split() for line in lines if line.strip().startswith("orders ") and "landed" not in line)
    assert orders[1:4] == ["85", "85", "85"], orders  # the seeded orders of 2026-11-02 02:00 to 11-03 02:00
    customers = next(line.split() for line in lines if line.strip().startswith("customers "))
    assert customers[1] == customers[2] == customers[3], customers
    assert any(line.strip().startswith("landed     landing/crm/orders/date=") for line in lines)
    assert any(line.strip().startswith("sensitive  sensitive/crm/customers/date=") for line in lines)
    assert any(line.strip().startswith("topic      ingest.crm.orders offsets p0: ") for line in lines)
    assert "all demo runs succeeded" in output
    # ...and ends with `ingest status` over the control DB.
    status = {
        line.split()[0] + "." + line.split()[1]: line.split()
        for line in lines
        if line.startswith(("crm ", "orders_api ", "partner_files "))
    }
    assert status["crm.orders"][2] == "ok"
    assert "85" in status["crm.orders"][5:]  # rows landed
    # The REST and SFTP samples, end to end too: every record of the sample API, every seeded partner file.
    assert "ingest_orders_api  run manual__" in output
    assert "      read       250 record(s) in 4 API request(s)" in lines
    assert status["orders_api.orders"][2] == "ok"
    assert "250" in status["orders_api.orders"][5:]
    assert "ingest_partner_files  run manual__" in output
    for entity, file_name, rows in (
        ("customers", "customers_2026-11-01.csv", 3),
        ("orders", "orders_2026-11-02.csv.gz", 2),
        ("events", "events_2026-11-01.jsonl", 3),
    ):
        assert f"      read       sftp:inbound/partners/{file_name} ({rows} rows)" in lines
        assert status[f"partner_files.{entity}"][2] == "ok"
        assert str(rows) in status[f"partner_files.{entity}"][5:]
