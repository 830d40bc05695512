"""Helpers shared by integration tests: source tables and configs of a test's own, Airflow environments and
components, reading a topic as a read_committed consumer, driving the stack."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from sqlalchemy import Engine, create_engine, text
from tenacity import retry, retry_if_exception, stop_after_delay, wait_fixed

REPO = Path(__file__).resolve().parents[2]
# The CRM database as its owner, to create tables the tests' sources read through `crm_postgres` (crm_reader).
CRM_WRITER_URL = f"postgresql+psycopg://ingest:ingest@127.0.0.1:{os.environ.get('STACK_POSTGRES_PORT', '25432')}/crm"
# What `make airflow`'s components need on 2 cores; the dag-processor re-parses every 5 s so tests wait less.
COMPONENT_SETTINGS = {
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
}


# An orders table with the awkward types (decimal, boolean, NULLs, time zones), as SQL and as the config declares it.
ORDERS_TABLE_SQL = (
    "order_id bigint PRIMARY KEY, customer text, amount numeric(12,2) NOT NULL, paid boolean, "
    "updated_at timestamptz NOT NULL"
)
ORDERS_COLUMNS: list[dict[str, Any]] = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "paid", "type": "boolean"},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A database of the test's own on the stack's Postgres (owned by `ingest`), dropped afterwards; yields its URL.
    For a control DB that no other test on this stack has written to, whatever ran before."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(CRM_WRITER_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} OWNER ingest ENCODING 'UTF8' TEMPLATE template0"))
        yield CRM_WRITER_URL.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    finally:
        admin.dispose()


@contextmanager
def crm_table(table: str, columns_sql: str) -> Iterator[Engine]:
    """A table of the test's own in the CRM database, readable by the source connection; dropped afterwards.
    Yields an engine that may write to it."""
    writer = create_engine(CRM_WRITER_URL, pool_pre_ping=True)  # survives a Postgres restart (fault tests)
    try:
        with writer.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} ({columns_sql})"))
            conn.execute(text(f"GRANT SELECT ON {table} TO crm_reader"))
        yield writer
        with writer.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
    finally:
        writer.dispose()


def source_config(name: str, kind: str, conn_id: str, entities: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A daily source config of a test's own; `fields` add to or replace the top-level keys."""
    return {
        "name": name,
        "owners": {"primary": "data-eng@example.com", "team": "data-eng"},
        "schedule": "@daily",
        "start_date": "2026-11-01T00:00:00Z",
        "kind": kind,
        "conn_id": conn_id,
        "entities": entities,
        **fields,
    }


def sql_source_config(name: str, entities: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A SQL source config on `crm_postgres`; `fields` add to or replace the top-level keys."""
    return source_config(name, "sql", "crm_postgres", entities, **fields)


def landed_table(summary: dict[str, Any]) -> pa.Table:
    """Every file an extract_land summary lists, read back from the lake as one table."""
    import pyarrow.parquet as pq

    from ingestion.land.lake import Lake

    lake = Lake.from_conn_id("lake_wasb", summary["container"])
    return pa.concat_tables([pq.read_table(io.BytesIO(lake.get(path))) for path in summary["files"]])


def sensitive_table(summary: dict[str, Any], container: str = "sensitive") -> pa.Table:
    """The sensitive container's files an extract_land summary lists (`sensitive_files`), as one table."""
    import pyarrow.parquet as pq

    from ingestion.land.lake import Lake

    lake = Lake.from_conn_id("lake_wasb", container)
    return pa.concat_tables([pq.read_table(io.BytesIO(lake.get(path))) for path in summary["sensitive_files"]])


def stage_context(run_id: str, end: datetime, conf: dict[str, Any] | None = None, dag_id: str = "ingest_x") -> Any:
    """The parts of an Airflow task context the stage operators read, for a scheduled run ending at `end`."""
    dag_run = SimpleNamespace(
        dag_id=dag_id,
        run_id=run_id,
        run_type="scheduled",
        data_interval_start=end - timedelta(days=1),
        data_interval_end=end,
        run_after=end,
        conf=conf or {},
    )
    return {"dag_run": dag_run, "ti": SimpleNamespace(try_number=1)}


def run_stages(
    source: str,
    entity: str,
    run_id: str,
    end: datetime,
    *,
    stages: tuple[str, ...] | None = None,
    results: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The entity's stage operators in order, in-process, as the DAG would run them: each result goes to the next
    through a stand-in for XCom, as the JSON Airflow would store (the operators' `to_xcom`, read back by commit with
    `from_xcom`). Returns {stage: result}. `stages` picks some; `results` carries on from an earlier call (e.g.
    publish again after a failure)."""
    from ingestion.operators import STAGE_OPERATORS
    from ingestion.planner import STAGES

    results = {} if results is None else results
    context = stage_context(run_id, end, dag_id=f"ingest_{source}")
    context["ti"].xcom_pull = lambda task_ids: results.get(task_ids.rpartition(".")[2])
    context["outlet_events"] = defaultdict(SimpleNamespace)
    for stage in stages or STAGES:
        op = STAGE_OPERATORS[stage](task_id=f"{entity}.{stage}", source_name=source, entity_name=entity)
        results[stage] = json.loads(json.dumps(op.execute(context)))  # fails on anything XCom could not hold
    return results


def write_configs(config_dir: Path, *configs: dict[str, Any]) -> Path:
    """A config directory with the repository's `_defaults.json` and the given source configs."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "_defaults.json").write_text((REPO / "include" / "source_configs" / "_defaults.json").read_text())
    for config in configs:
        (config_dir / f"{config['name']}.json").write_text(json.dumps(config))
    return config_dir


def airflow_env(home: Path, config_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for Airflow commands and components on this repository's DAGs, with its own home and
    source configs; none of the caller's AIRFLOW__ settings leak in. `settings` add or override."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        AIRFLOW_HOME=str(home),
        INGEST_CONFIG_DIR=str(config_dir),
        INGEST_ENV="dev",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONPATH=str(REPO / "plugins"),
    )
    env.update(settings)
    return env


AIRFLOW_BIN = str(REPO / ".venv" / "bin" / "airflow")


def sqlite_airflow_env(home: Path, config_dir: Path) -> dict[str, str]:
    """`airflow_env` on a freshly migrated SQLite metadata DB in `home`, for `airflow dags test`."""
    # INGEST_DEADLINES=off: `airflow dags test` in 3.3.2 crashes after a run of a DAG with a deadline (see demo.sh).
    env = airflow_env(
        home, config_dir, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db", INGEST_DEADLINES="off"
    )
    migrate = subprocess.run([AIRFLOW_BIN, "db", "migrate"], env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    return env


def dags_test(env: dict[str, str], dag_id: str, logical_date: str, *, succeed: bool = True) -> str:
    """`airflow dags test`; asserts the run succeeded (or, with succeed=False, failed). Returns its output."""
    result = subprocess.run(
        [AIRFLOW_BIN, "dags", "test", dag_id, logical_date], env=env, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    if succeed:
        assert result.returncode == 0, output[-4000:]
        assert "state=success" in output, output[-4000:]
    else:
        assert result.returncode != 0 or "state=failed" in output, output[-4000:]
    return output


def start_airflow(env: dict[str, str], port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """Start `make airflow`'s supervisor (scripts/airflow_local.py) and return once it prints the UI address.
    The caller stops it with SIGINT. Fails with the supervisor's output if it reports a failure instead."""
    proc = subprocess.Popen(
        [sys.executable, "scripts/airflow_local.py", "run", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        output.append(line)
        if "[airflow] UI:" in line or "FAILED" in line:
            break
    if not any(f"UI: http://127.0.0.1:{port}" in line for line in output):
        proc.kill()
        proc.communicate(timeout=60)
        raise AssertionError("".join(output))
    return proc, output


# For a child process to report its own peak resident memory. Not getrusage's ru_maxrss: Linux carries the parent's
# high-water mark into a child across fork and exec, so a child of a large pytest process reported that process's
# peak (about 560 MB after the fault matrix) instead of its own (about 450 MB).
PEAK_RSS_MB_SNIPPET = "(lambda t: int(t.split('VmHWM:')[1].split()[0]) / 1024)(open('/proc/self/status').read())"


def bootstrap_servers() -> str:
    return json.loads(os.environ["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]["bootstrap.servers"]


def stack(*args: str) -> None:
    """`python -m stack ...`, e.g. stack("stop", "kafka")."""
    subprocess.run([sys.executable, "-m", "stack", *args], cwd=REPO, check=True, timeout=120)


def _kafka_retriable(exc: BaseException) -> bool:
    """The publisher's transient errors, plus a partition without a leader for a moment after a broker restart."""
    from ingestion.publish.kafka_publisher import _is_retriable

    if _is_retriable(exc):
        return True
    leaderless = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}
    return isinstance(exc, KafkaException) and bool(exc.args) and exc.args[0].code() in leaderless


def read_committed(topic: str) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    """Every message of every partition visible to read_committed, up to the last stable offset."""
    return [(key, value, headers) for key, value, headers, _ in read_committed_placed(topic)]


def read_committed_placed(topic: str) -> list[tuple[bytes | None, bytes | None, dict[str, bytes], int]]:
    """As read_committed, with the partition each message is in."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions

        # Right after a broker restart a partition has no leader for a moment (NOT_LEADER_FOR_PARTITION): ask again.
        @retry(
            retry=retry_if_exception(_kafka_retriable), stop=stop_after_delay(60), wait=wait_fixed(0.5), reraise=True
        )
        def end_offsets() -> dict[int, int]:
            # For a read_committed consumer these are last stable offsets: a transaction's commit markers are written
            # just after its commit returns, so right after a publish a partition's end may still be moving.
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}

        ends = end_offsets()
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out = []
        deadline = time.monotonic() + 60
        while True:
            # The position moves past transaction markers and aborted records too, so reaching each partition's
            # end offset means everything visible at read_committed has been read.
            positions = consumer.position([TopicPartition(topic, p) for p in partitions])
            if all(ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in positions):
                time.sleep(1)
                settled = end_offsets()
                if settled == ends:
                    break
                ends = settled  # markers landed meanwhile: read on to the new ends
            if time.monotonic() > deadline:
                raise AssertionError(f"did not reach the end offsets {ends} of {topic} in 60 s")
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error():
                    raise AssertionError(msg.error())
                out.append((msg.key(), msg.value(), dict(msg.headers() or []), msg.partition()))
        return out
    finally:
        consumer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sample_api_process(token: str) -> Iterator[str]:
    """A sample API of the caller's own (this repository's app on a free port, accepting `token` as every kind of
    credential), so a test neither depends on nor disturbs the shared one's state. Yields its base URL."""
    import requests

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "stack.apps.sample_api:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "SAMPLE_API_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, "the sample API exited"
            assert time.monotonic() < deadline, "the sample API did not answer in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def retention_cli(folder: Path, today: date, *args: str) -> subprocess.CompletedProcess[str]:
    """`scripts/ingest retention ARGS --today TODAY` on the config folder `folder`, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ingestion", "--config-dir", str(folder), "retention", *args, "--today", f"{today}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "plugins")},
        check=False,
    )
