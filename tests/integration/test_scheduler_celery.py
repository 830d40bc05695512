"""The DAGs on the CeleryExecutor (`make airflow EXECUTOR=celery`: the stack's Redis as broker, two workers with homes
of their own, as on two machines):

- every sample DAG succeeds, and one run's tasks are spread over both workers;
- a worker killed (it and every process below it, as when its machine goes away) while it runs one partition of a
  partitioned entity: the supervisor starts a new worker in its place, the scheduler retries that partition alone
  once its heartbeats stopped, and each row is published once for read_committed consumers.

It runs the sample DAGs on the stack's control database, lake and topics (test_demo.py, which checks the counts of the
samples' first run, has a control DB of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import text

from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore
from tests.integration.airflow_rest import AirflowRest
from tests.integration.support import (
    COMPONENT_SETTINGS,
    REPO,
    airflow_env,
    crm_table,
    read_committed,
    sql_source_config,
    start_airflow,
    write_configs,
)

PORT = 28092
# The sample DAGs (include/source_configs and the platform's smoke check), as the demo runs them.
SAMPLE_DAGS = ("platform_smoke_check", "ingest_crm", "ingest_orders_api", "ingest_partner_files")
WORKERS = {"worker-1": "airflow-worker-1", "worker-2": "airflow-worker-2"}  # names and reported host names
PG_PORT = os.environ.get("STACK_POSTGRES_PORT", "25432")
ROWS = 195
# How long the scheduler waits for a running task's heartbeat before it fails (and retries) the task: 300 s by
# default, shortened so that the test does not wait five minutes for a dead worker's task.
HEARTBEAT_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="module")
def parts_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A table of ROWS orders read by a partitioned full load: three extract_land and three publish tasks."""
    name = f"c{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    with crm_table(table, "order_id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL") as writer:
        with writer.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} SELECT g, g * 0.5 FROM generate_series(0, {ROWS - 1}) g"))
        entity = {
            "name": "orders",
            "locator": {"kind": "sql", "schema": "public", "table": table},
            "primary_key": ["order_id"],
            "columns": [
                {"name": "order_id", "type": "bigint", "nullable": False},
                {"name": "amount", "type": "decimal(12,2)", "nullable": False},
            ],
            "load": {"mode": "full", "partitions": {"count": 3}},
        }
        config = sql_source_config(
            name, [entity], schedule=None, retries={"count": 1, "delay_seconds": 5, "backoff_multiplier": 1}
        )
        yield {"name": name, "config": config}


@pytest.fixture(scope="module")
def celery(parts_source: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`make airflow EXECUTOR=celery` on the sample configs and the partitioned source; its output once stopped."""
    configs = tmp_path_factory.mktemp("configs")
    for sample in (REPO / "include" / "source_configs").glob("*.json"):
        shutil.copy(sample, configs / sample.name)
    write_configs(configs, parts_source["config"])
    home = tmp_path_factory.mktemp("airflow")
    faults = tmp_path_factory.mktemp("faults")  # faults armed here fire in the workers' task processes
    env = airflow_env(
        home,
        configs,
        **{**COMPONENT_SETTINGS, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"},
        # One task at a time per worker: two tasks queued together must go to different workers.
        AIRFLOW__CELERY__WORKER_CONCURRENCY="1",
        # A metadata DB of its own: a scheduler on the shared one would also run this Airflow's queued tasks.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg://ingest:ingest@127.0.0.1:{PG_PORT}/airflow_celery",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT_SECONDS),
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
        INGEST_FAULT_DIR=str(faults),
    )
    proc, output = start_airflow(env, PORT)

    def stop() -> tuple[int, str]:
        """Stop it (Ctrl-C) once; its exit code and everything it printed."""
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            output.append(proc.communicate(timeout=180)[0])
        return proc.returncode, "".join(output)

    try:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        api = AirflowRest(f"http://127.0.0.1:{PORT}", password)
        yield {"api": api, "home": home, "faults": faults, "stop": stop}
    finally:
        stop()


def _unpause_and_trigger(api: AirflowRest, dag_id: str) -> str:
    api.wait_parsed(dag_id)
    api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    return str(api.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"])


@pytest.mark.timeout(600)  # four DAG runs through two single-slot workers
def test_every_sample_dag_succeeds_on_celery_workers_and_a_run_uses_both(celery: dict[str, Any]) -> None:
    api, home = celery["api"], celery["home"]
    # Each worker has a home of its own, as on a machine of its own.
    assert {p.name for p in (home / "workers").iterdir()} == set(WORKERS)
    runs = {dag_id: _unpause_and_trigger(api, dag_id) for dag_id in SAMPLE_DAGS}
    hosts = {}
    for dag_id, run_id in runs.items():
        api.wait_run(dag_id, run_id, timeout=480)
        tis = api.task_instances(dag_id, run_id).values()
        hosts[dag_id] = {ti["task_id"]: ti["hostname"] for ti in tis if ti["state"] == "success"}
    # Every task ran on one of the two workers, and the file entities' tasks, side by side, on both.
    assert {h for run_hosts in hosts.values() for h in run_hosts.values()} <= set(WORKERS.values()), hosts
    assert set(hosts["ingest_partner_files"].values()) == set(WORKERS.values()), hosts
    # Each worker loaded the stages' libraries itself, before it forked the processes that ran these tasks
    # (ingestion.worker_preload): a Celery worker imports neither Kafka's client nor the ADBC driver otherwise.
    for worker in WORKERS:
        maps = Path(f"/proc/{(home / 'pids' / f'{worker}.pid').read_text().strip()}/maps").read_text()
        assert "/confluent_kafka/" in maps, worker
        assert "/adbc_driver_manager/" in maps, worker


def _worker_running(home: Path, pid: int) -> str:
    """The name of the worker whose process tree holds `pid`."""
    for worker in WORKERS:
        worker_pid = int((home / "pids" / f"{worker}.pid").read_text())
        if pid in {p.pid for p in psutil.Process(worker_pid).children(recursive=True)}:
            return worker
    raise AssertionError(f"task process {pid} is under neither worker")


def _kill_worker(home: Path, worker: str) -> None:
    """SIGKILL to the worker and every process below it at once, as when its machine goes away: the task process
    too, which runs in a process group of its own."""
    leader = psutil.Process(int((home / "pids" / f"{worker}.pid").read_text()))
    for proc in [leader, *leader.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear in {timeout:.0f}s"
        time.sleep(0.5)


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_partition_is_replaced_and_only_that_partition_retries(
    celery: dict[str, Any], parts_source: dict[str, Any]
) -> None:
    api, home, name = celery["api"], celery["home"], parts_source["name"]
    dag_id = f"ingest_{name}"
    # Partition 1's extract_land stops after landing its first batch, until the test lets it go on (it never does).
    armed = celery["faults"] / f"land.batch@{name}.orders.p1"
    armed.write_text(json.dumps({"action": "pause"}))
    run_id = _unpause_and_trigger(api, dag_id)
    paused = armed.with_name(armed.name + ".paused")
    _wait_for(paused, timeout=300)
    killed = _worker_running(home, int(paused.read_text()))
    _kill_worker(home, killed)
    paused.unlink()

    api.wait_run(dag_id, run_id, timeout=420)
    tis = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})["task_instances"]
    tries = {
        stage: {ti["map_index"]: ti["try_number"] for ti in tis if ti["task_id"] == f"orders.{stage}"}
        for stage in ("extract_land", "publish")
    }
    # Only the partition of the dead worker ran again; its first try is on record as that worker's.
    assert tries == {"extract_land": {0: 1, 1: 2, 2: 1}, "publish": {0: 1, 1: 1, 2: 1}}, tries
    first_try = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/orders.extract_land/1/tries/1")
    assert first_try["hostname"] == WORKERS[killed], first_try
    published = Counter(
        int(key)
        for key, _, headers in read_committed(f"ingest.{name}.orders")
        if headers["ingest_run_id"] == run_id.encode()
    )
    assert set(published) == set(range(ROWS))
    assert max(published.values()) == 1, "a row was published more than once"
    store = ControlStore(control_engine())
    try:
        record = store.committed_run(name, "orders", run_id)
    finally:
        store.engine.dispose()
    assert record is not None
    assert record.rows_landed == record.rows_published == ROWS

    # The supervisor started a new worker in the dead one's place, and everything stops cleanly.
    returncode, printed = celery["stop"]()
    assert returncode == 0, printed[-3000:]
    assert printed.count(" exited; starting a new one in its place") == 1, printed[-3000:]
    assert f"[airflow] {killed} exited; starting a new one in its place" in printed
    for worker in WORKERS:
        assert f"[airflow] {worker}: stopped" in printed, printed[-3000:]
