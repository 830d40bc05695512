"""The fault matrix: each fault injected at a precise point of a real run on the local stack (a fault point in the
stage, a SIGKILL of the stage's process, a stopped service), then the run carried on as Airflow's retries or an
operator following our messages would. Every row ends with the same check, as a consumer and an operator see it:
every source row of each committed run's window is in Kafka exactly once for a read_committed consumer, no blob
under a committed run's prefix is outside its manifest, and the watermark moved once per committed run.

Each test records its row; once all have passed, the table is written into docs/reliability.md
(tests/integration/faults/matrix.py). Scenarios use sources, tables, topics and folders of their own.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException
from confluent_kafka import Producer
from sqlalchemy import text

from ingestion.publish.errors import PublishCountMismatchError, PublishError
from ingestion.state.store import open_control_store
from tests.integration.faults.harness import Scenario, run_id_for
from tests.integration.faults.matrix import FaultRow, record
from tests.integration.support import (
    REPO,
    bootstrap_servers,
    crm_table,
    source_config,
    sql_source_config,
    stack,
    write_configs,
)

DAY_1 = datetime(2026, 11, 2, tzinfo=UTC)
DAY_2 = datetime(2026, 11, 3, tzinfo=UTC)
SOURCE_ROWS = 3_000
BIG_ROWS = 60_000  # with 2 KB rows: several source batches
COLUMNS = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "note", "type": "string"},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]
TABLE_SQL = "order_id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, note text, updated_at timestamptz NOT NULL"


def keys(first: int, last: int) -> set[bytes]:
    return {str(i).encode() for i in range(first, last + 1)}


def insert_rows(writer: Any, table: str, first: int, last: int, note_bytes: int = 20) -> None:
    """Rows first..last, updated well in the past (every run's window reaches them)."""
    with writer.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {table} SELECT g, g * 0.25, repeat('n', CAST(:width AS integer)), "
                "timestamptz '2026-11-01 00:00+00' + g * interval '1 second' "
                "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) g"
            ),
            {"first": first, "last": last, "width": note_bytes},
        )


@pytest.fixture
def sql_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Scenario, Any]]:
    """An incremental SQL entity over a fresh table of SOURCE_ROWS rows; yields the scenario and a writer."""
    name = f"f{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    with crm_table(table, TABLE_SQL) as writer:
        insert_rows(writer, table, 1, SOURCE_ROWS)
        entity = {
            "name": "orders",
            "locator": {"kind": "sql", "schema": "public", "table": table},
            "primary_key": ["order_id"],
            "columns": COLUMNS,
            "load": {"mode": "incremental", "cursor_column": "updated_at", "safety_margin_seconds": 0},
        }
        config = sql_source_config(name, [entity], kafka={"publish_timeout_seconds": 15})
        yield _scenario(tmp_path, monkeypatch, config), writer


def _scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]) -> Scenario:
    config_dir = write_configs(tmp_path / "configs", config)
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("INGEST_FAULT_DIR", str(fault_dir))
    return Scenario(config["name"], config_dir, fault_dir)


def _table(scenario: Scenario) -> str:
    return f"{scenario.name}_orders"


@contextmanager
def stopped(service: str) -> Iterator[None]:
    """The stack's `service` stopped for the body, and started again whatever happens."""
    stack("stop", service)
    try:
        yield
    finally:
        stack("start", service)


def down_at(s: Scenario, point: str, service: str, work: Any, *, after: int = 0) -> BaseException:
    """Run `work` until it reaches `point`, stop `service` there, let the work go on until it fails, then start
    the service again. Returns the error the work ended with."""
    try:
        with s.paused_at(point, work, after=after) as attempt:
            stack("stop", service)
    finally:
        stack("start", service)
    error = attempt.exception()
    assert error is not None, f"the work went on with {service} stopped at {point} and did not fail"
    return error


def record_measured(order: int, fault: str, where: str, verdict: Any, outcome: str) -> None:
    record(FaultRow.measured(order, fault, where, verdict, outcome))


def landed_blobs(s: Scenario, end: datetime) -> list[str]:
    """Every blob under the run's prefix in the general container, visible to a reader (committed ones only)."""
    from ingestion.land.lake import Lake
    from ingestion.pipeline.landed_run import landing_paths
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.plan_loader import load_entity_plan

    plan = load_entity_plan(s.name, s.entity, config_dir=s.config_dir)
    run = RunInfo(f"ingest_{s.name}", run_id_for(end), "scheduled", None, end, end)
    return Lake.from_conn_id(plan.landing.conn_id, plan.landing.container).names(landing_paths(plan, run).run_prefix)


# -- Kafka ------------------------------------------------------------------------------------------------------


def test_kafka_stopped_mid_publish_then_the_retry_publishes_each_row_once(sql_scenario: tuple[Scenario, Any]) -> None:
    s, _ = sql_scenario
    s.run(DAY_1, ("extract_land", "validate"))
    error = down_at(s, "publish.batch", "kafka", lambda: s.run(DAY_1, ("publish",)))
    assert isinstance(error, PublishError), error
    s.run(DAY_1, ("publish", "commit"))
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        1,
        "Kafka stopped mid-publish, then started",
        "publish, after the first batch was produced",
        verdict,
        "attempt aborted, nothing of it visible; the retry published every row once",
    )


def test_a_second_producer_on_the_topic_aborts_the_publish_and_the_retry_succeeds(
    sql_scenario: tuple[Scenario, Any],
) -> None:
    s, _ = sql_scenario
    s.run(DAY_1, ("extract_land", "validate"))
    with s.paused_at("publish.batch", lambda: s.run(DAY_1, ("publish",))) as attempt:
        intruder = Producer({"bootstrap.servers": bootstrap_servers()})
        for i in range(5):
            intruder.produce(s.topic, f"not ours {i}".encode())
        assert intruder.flush(30) == 0
    error = attempt.exception()
    assert isinstance(error, PublishCountMismatchError), error
    assert "another producer" in str(error)
    s.run(DAY_1, ("publish", "commit"))
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        2,
        "a second producer writes the entity's topic during publish",
        "publish, after the first batch was produced",
        verdict,
        "count check aborted the attempt, naming the cause; the retry published every row once",
    )


# -- the task process killed ------------------------------------------------------------------------------------


def test_sigkill_mid_extract_leaves_nothing_visible_and_the_retry_lands_once(
    sql_scenario: tuple[Scenario, Any],
) -> None:
    s, _ = sql_scenario
    s.killed(DAY_1, "extract_land", "land.batch", after=1)  # the part is open, its blocks not committed
    assert landed_blobs(s, DAY_1) == []  # no part, no manifest: nothing a reader could follow
    s.run(DAY_1)
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        3,
        "SIGKILL of the task process mid-extract",
        "extract_land, a part half written",
        verdict,
        "no blob visible; the retry landed and published every row once",
    )


def test_sigkill_mid_publish_is_fenced_and_the_retry_publishes_once(sql_scenario: tuple[Scenario, Any]) -> None:
    s, _ = sql_scenario
    s.run(DAY_1, ("extract_land", "validate"))
    s.killed(DAY_1, "publish", "publish.batch", after=1)
    s.run(DAY_1, ("publish", "commit"))
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        4,
        "SIGKILL of the task process mid-publish",
        "publish, transaction open",
        verdict,
        "the retry fenced the dead attempt's transaction (aborted) and published every row once",
    )


def test_sigkill_right_after_the_kafka_commit_does_not_publish_again(sql_scenario: tuple[Scenario, Any]) -> None:
    s, _ = sql_scenario
    s.run(DAY_1, ("extract_land", "validate"))
    s.killed(DAY_1, "publish", "publish.committed")
    published = s.run(DAY_1, ("publish",))["publish"]
    assert published["already_published"], published
    s.run(DAY_1, ("commit",))
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        5,
        "SIGKILL right after the Kafka transaction committed",
        "publish, after commit_transaction",
        verdict,
        "the retry found the run in the publish log and sent nothing; commit moved the watermark once",
    )


def test_sigkill_mid_commit_rolls_back_and_the_retry_commits_once(sql_scenario: tuple[Scenario, Any]) -> None:
    s, _ = sql_scenario
    s.run(DAY_1, ("extract_land", "validate", "publish"))
    s.killed(DAY_1, "commit", "commit.in_transaction")
    with open_control_store() as store:
        assert store.get_watermark(s.name, s.entity) is None  # the transaction rolled back
        assert store.runs(s.name, s.entity) == []
    s.run(DAY_1, ("commit",))
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        6,
        "SIGKILL of the task process mid-commit",
        "commit, inside the control-DB transaction",
        verdict,
        "rolled back: no watermark, no run record; the retry committed once",
    )


# -- services stopped ------------------------------------------------------------------------------------------


def test_azurite_stopped_mid_landing_fails_the_extract_and_the_retry_lands_once(
    sql_scenario: tuple[Scenario, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s, _ = sql_scenario
    # The SDK's own retries still run, three of them, but 1 s apart instead of its 15, 18 and 24 s (with up to 3 s of
    # jitter): the lake connection's extras reach BlobServiceClient, as a deployment would set them.
    conn = json.loads(os.environ["AIRFLOW_CONN_LAKE_WASB"])
    conn["extra"] |= {"initial_backoff": 1, "increment_base": 1, "random_jitter_range": 0}
    monkeypatch.setenv("AIRFLOW_CONN_LAKE_WASB", json.dumps(conn))
    down_at(s, "land.batch", "azurite", lambda: s.run(DAY_1, ("extract_land",)), after=1)
    s.run(DAY_1)
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        7,
        "Azurite stopped mid-landing, then started",
        "extract_land, a part half written",
        verdict,
        "the extract failed; the retry landed over the same names and published every row once",
    )


def test_source_postgres_stopped_mid_extract_fails_and_the_retry_is_exact(
    sql_scenario: tuple[Scenario, Any],
) -> None:
    s, writer = sql_scenario
    # Rows wide enough that the source is still streaming when the first batch lands (about 16 MB a batch).
    insert_rows(writer, _table(s), SOURCE_ROWS + 1, BIG_ROWS, note_bytes=2_000)
    down_at(s, "land.batch", "postgres", lambda: s.run(DAY_1, ("extract_land",)), after=1)
    s.run(DAY_1)
    verdict = s.verdict({DAY_1: keys(1, BIG_ROWS)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        8,
        "the source Postgres stopped mid-extract, then started",
        "extract_land, after the first batch landed",
        verdict,
        "the extract failed; the retry read the window again and published every row once",
    )


def test_control_db_down_through_commit_then_the_next_run_waits_for_it(
    sql_scenario: tuple[Scenario, Any], caplog: pytest.LogCaptureFixture
) -> None:
    s, writer = sql_scenario
    s.run(DAY_1, ("extract_land", "validate", "publish"))
    with stopped("postgres"):
        for _ in range(2):  # the try and its retry
            with pytest.raises(Exception, match=r"(?i)connection|server|refused"):
                s.run(DAY_1, ("commit",))
    insert_rows(writer, _table(s), SOURCE_ROWS + 1, SOURCE_ROWS + 100)
    # The next run must not read day 1's rows again while day 1 has not committed: it waits (up_for_reschedule).
    caplog.clear()
    with pytest.raises(AirflowRescheduleException):
        s.run(DAY_2, ("extract_land",))
    assert f"run {run_id_for(DAY_1)} published {SOURCE_ROWS} row(s)" in caplog.text
    assert landed_blobs(s, DAY_2) == []  # it read nothing
    s.run(DAY_1, ("commit",))  # the operator clears day 1's commit
    s.results.pop(run_id_for(DAY_2))
    s.run(DAY_2)
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS), DAY_2: keys(SOURCE_ROWS + 1, SOURCE_ROWS + 100)})
    verdict.assert_exactly_once(moves=2)
    record_measured(
        9,
        "control DB (Postgres) down through commit and its retry; then the next run",
        "commit",
        verdict,
        "watermark not moved; the next run waited, reading nothing, until the failed run committed, then read only "
        "new rows",
    )


# -- operator actions -------------------------------------------------------------------------------------------


def test_commit_refused_after_a_manual_watermark_move_then_cleared_from_extract_land(
    sql_scenario: tuple[Scenario, Any],
) -> None:
    s, writer = sql_scenario
    first = s.run(DAY_1, ("extract_land", "validate", "publish"))["extract_land"]
    with open_control_store() as store:
        store.set_watermark(s.name, s.entity, "2026-11-01T00:10:00+00:00", reason="by hand", changed_by="cli:test")
    with pytest.raises(AirflowFailException, match="the watermark is '2026-11-01T00:10:00\\+00:00'") as refused:
        s.run(DAY_1, ("commit",))
    assert "watermark reset" in str(refused.value)  # the run started without a watermark: the message says how
    # New rows arrive; then the operator clears the whole group from extract_land, as older advice said.
    insert_rows(writer, _table(s), SOURCE_ROWS + 1, SOURCE_ROWS + 100)
    s.results.pop(run_id_for(DAY_1))
    again = s.run(DAY_1, ("extract_land", "validate", "publish"))
    assert again["extract_land"]["landing_id"] == first["landing_id"]  # frozen: the same landing, nothing read
    assert again["extract_land"]["rows"] == SOURCE_ROWS
    assert again["publish"]["already_published"]
    with pytest.raises(AirflowFailException, match="the watermark is"):
        s.run(DAY_1, ("commit",))
    # What the message says: put the watermark back where the run started, then clear only commit.
    with open_control_store() as store:
        store.set_watermark(s.name, s.entity, None, reason="back for the run", changed_by="cli:test")
    s.run(DAY_1, ("commit",))
    s.run(DAY_2)
    verdict = s.verdict({DAY_1: keys(1, SOURCE_ROWS), DAY_2: keys(SOURCE_ROWS + 1, SOURCE_ROWS + 100)})
    verdict.assert_exactly_once(moves=2)
    record_measured(
        10,
        "commit refused after publish (watermark moved by hand), then the group cleared from extract_land",
        "commit; then the whole entity cleared",
        verdict,
        "the cleared run re-used its landing and published nothing; after the fix the message names, it "
        "committed once and the next run read only new rows",
    )


def test_entities_sharing_a_topic_are_refused_and_publish_logs_are_per_entity(tmp_path: Path) -> None:
    from ingestion.config.loader import load_configs
    from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
    from ingestion.publish.kafka_publisher import PublishTarget, publish, publish_group

    topic = f"shared.{uuid.uuid4().hex[:8]}"
    entity = {"name": "orders", "locator": {"kind": "sql", "table": "orders"}, "columns": COLUMNS[:1]}
    configs = [sql_source_config(name, [entity], kafka={"topic_template": topic}) for name in ("alpha", "beta")]
    loaded = load_configs(write_configs(tmp_path / "configs", *configs))
    assert loaded.configs == {}
    assert sorted((Path(e.file).name, e.path) for e in loaded.errors) == [
        ("alpha.json", "$.kafka.topic_template"),
        ("beta.json", "$.kafka.topic_template"),
    ]
    # Below the config: the same run id of two entities on one topic are two runs, neither skipped.
    import pyarrow as pa

    run_id = run_id_for(DAY_1)
    for source, first in (("alpha", 1), ("beta", 101)):
        target = PublishTarget(
            topic=topic,
            partitions=1,
            replication_factor=1,
            key_columns=("order_id",),
            value_columns=("order_id",),
            headers=(("ingest_run_id", f"{source}:{run_id}"),),
            run_key=run_id,
            expected_rows=100,
            log_group=publish_group(source, "orders"),
        )
        batch = pa.RecordBatch.from_pydict({"order_id": pa.array(range(first, first + 100), pa.int64())})
        hook = TransactionalKafkaProducerHook(transactional_id=f"test.{source}.{topic}")
        assert not publish(hook, target, lambda batch=batch: [batch]).already_published
    from tests.integration.support import read_committed

    seen = [key for key, _, _ in read_committed(topic)]
    lost = len(keys(1, 200) - set(seen))
    duplicated = len(seen) - len(set(seen))
    assert (lost, duplicated) == (0, 0)
    record(
        FaultRow(
            11,
            "two sources sharing a topic on the same schedule",
            "config validation; publish log",
            str(lost),
            str(duplicated),
            "n/a",
            "both configs refused, each naming the other's file and field; publish logs are per entity, so equal "
            "run ids never skip each other",
        )
    )


# -- other sources ----------------------------------------------------------------------------------------------

PARTNER_HEADER = "partner_order_id,amount,email,ordered_at\n"
PARTNER_COLUMNS: list[dict[str, Any]] = [
    {"name": "partner_order_id", "type": "string", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "email", "type": "string", "pii": True, "pii_strategy": "hash"},
    {"name": "ordered_at", "type": "timestamp", "nullable": False},
]


def test_sshd_stopped_mid_download_fails_the_extract_and_the_retry_loads_every_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    name = f"f{uuid.uuid4().hex[:8]}"
    folder = f"inbound/{name}"
    settled = time.time() - 3600
    with SFTPHook(ssh_conn_id="partner_sftp").get_managed_conn() as client:
        client.mkdir(folder)
        for number in range(3):
            rows = "".join(f"PO-{number}-{i},{i}.25,p{i}@partner.example,2026-11-02T10:00:00Z\n" for i in range(200))
            path = f"{folder}/orders_{number}.csv"
            client.putfo(io.BytesIO((PARTNER_HEADER + rows).encode()), path)
            client.utime(path, (settled, settled))
    locator = {"kind": "sftp", "remote_path": folder, "file_pattern": "orders_*.csv", "file_format": "csv"}
    entity = {
        "name": "orders",
        "locator": {**locator, "settle_seconds": 1},
        "primary_key": ["partner_order_id"],
        "columns": PARTNER_COLUMNS,
        "load": {"mode": "incremental"},
    }
    config = source_config(name, "sftp", "partner_sftp", [entity], kafka={"publish_timeout_seconds": 15})
    s = _scenario(tmp_path, monkeypatch, config)
    down_at(s, "sftp.file", "sftp", lambda: s.run(DAY_1, ("extract_land",)), after=1)
    s.run(DAY_1)
    expected = {f"PO-{n}-{i}".encode() for n in range(3) for i in range(200)}
    verdict = s.verdict({DAY_1: expected})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        12,
        "sshd stopped mid-download, then started",
        "extract_land, before the second file",
        verdict,
        "the extract failed; the retry loaded each of the 3 files once",
    )


def test_api_storms_of_429_500_and_cut_bodies_are_retried_and_every_record_lands_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_api_url: str
) -> None:
    config = json.loads((REPO / "include" / "source_configs" / "orders_api.json").read_text())
    config.pop("$schema", None)
    name = f"f{uuid.uuid4().hex[:8]}"
    # Enough tries for the whole storm on one request (six failed answers, then the real one).
    config.update(
        name=name, kafka={"publish_timeout_seconds": 15}, http={"max_retry_wait_seconds": 1, "max_attempts": 8}
    )
    s = _scenario(tmp_path, monkeypatch, config)
    requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()
    records = requests.get(f"{sample_api_url}/_control/stats", timeout=5).json()["records"]
    storm = [
        {"status": 429, "count": 2, "retry_after": 1},
        {"status": 500, "count": 1},
        {"kind": "truncate", "count": 1},
        {"status": 503, "count": 1},
        {"kind": "truncate", "count": 1},
    ]
    for fault in storm:
        requests.post(f"{sample_api_url}/_control/faults", json=fault, timeout=5).raise_for_status()
    try:
        landed = s.run(DAY_1)["extract_land"]
    finally:
        left = requests.get(f"{sample_api_url}/_control/stats", timeout=5).json()["faults"]
        requests.post(f"{sample_api_url}/_control/reset", timeout=5).raise_for_status()
    assert left == 0  # every injected fault was met
    assert landed["requests"] >= len(storm) + records // 100  # the failed tries were made and retried
    verdict = s.verdict({DAY_1: keys(1, records)})
    verdict.assert_exactly_once(moves=1)
    record_measured(
        13,
        "the sample API answering 429 and 5xx storms and closing connections mid-body",
        "extract_land, the first requests",
        verdict,
        "each answer retried (429 after its Retry-After); every record landed and published once",
    )


def test_a_control_db_connection_that_cannot_be_read_fails_the_task_and_creates_no_sqlite(
    sql_scenario: tuple[Scenario, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, _ = sql_scenario
    home = tmp_path / "airflow-home"
    home.mkdir()
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.delenv("INGEST_CONTROL_DB_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_CONTROL_DB", "{not a connection")  # what a secrets backend blip looks like
    with pytest.raises(AirflowFailException, match="control_db"):
        s.run(DAY_1, ("extract_land",))
    assert list(home.iterdir()) == []  # no private SQLite control DB
    monkeypatch.undo()
    assert landed_blobs(s, DAY_1) == []  # nothing was read or landed
    record(
        FaultRow(
            14,
            "the control_db connection lookup failing (unparsable)",
            "extract_land, opening the control DB",
            "0",
            "0",
            "0",
            "the task failed at once naming the connection; no SQLite file was created",
        )
    )
