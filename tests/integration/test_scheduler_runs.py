"""A SQL source's generated DAG under the real scheduler (`make airflow`'s components on the stack's Postgres):

- `airflow backfill create` over 3 days of an interval entity lands 3 date partitions with exactly each day's rows,
  skips the source's incremental entity and leaves its live watermark alone;
- Kafka stopped during a run: publish fails, the watermark does not move and nothing of the attempt is visible to
  read_committed; with Kafka back, the retry completes with exact counts;
- clearing that finished run re-runs it with no new files, no new committed messages and the watermark unchanged;
- a run whose commit failed holds the next run's extract of the incremental entity until it committed, so that
  run reads only new rows (no row published twice);
- a run still going past its source's deadline, and a daily run not finished by its `finish_by` time, each post a
  deadline alert, and the runs still finish.

The same DAGs on the CeleryExecutor: test_scheduler_celery.py.

These need the scheduler (backfills, retries, clearing), so they run against real components, not `dags test`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import text

from ingestion.land.lake import Lake
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
    stack,
    start_airflow,
    write_configs,
)

PORT = 28091
PG_PORT = os.environ.get("STACK_POSTGRES_PORT", "25432")
RETRY_DELAY = 20  # long enough to bring Kafka back between the failed try and the retry
COLUMNS = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": False},
    {"name": "ordered_at", "type": "timestamp", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]
DAY0 = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    name = f"s{uuid.uuid4().hex[:8]}"
    table = f"{name}_orders"
    columns = "order_id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, ordered_at timestamptz NOT NULL, "
    with crm_table(table, columns + "updated_at timestamptz NOT NULL") as writer:
        # 5 days of orders, one every 37 minutes (so days hold different counts), updated two days ago.
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {table} SELECT g, g * 0.5, :day0 + g * interval '37 minutes', "
                    "now() - interval '2 days' + g * interval '1 second' FROM generate_series(0, 194) g"
                ),
                {"day0": DAY0},
            )
        locator = {"kind": "sql", "schema": "public", "table": table}
        entity = {"locator": locator, "primary_key": ["order_id"], "columns": COLUMNS}
        config = sql_source_config(
            name,
            [
                {"name": "daily", **entity, "load": {"mode": "interval", "cursor_column": "ordered_at"}},
                {
                    "name": "live",
                    **entity,
                    "load": {"mode": "incremental", "cursor_column": "updated_at", "safety_margin_seconds": 0},
                },
            ],
            retries={"count": 1, "delay_seconds": RETRY_DELAY, "backoff_multiplier": 1},
            kafka={"publish_timeout_seconds": 10},
        )
        # A source whose only entity takes longer than its deadline: the query sleeps 80 s, the deadline is 1 min.
        slow = sql_source_config(
            f"{name}slow",
            [
                {
                    "name": "slow",
                    "locator": {
                        "kind": "sql",
                        "query": "SELECT g::bigint AS id, now() AS updated_at "
                        "FROM generate_series(1, 3) g, pg_sleep(80)",
                    },
                    "columns": [
                        {"name": "id", "type": "bigint", "nullable": False},
                        {"name": "updated_at", "type": "timestamp"},
                    ],
                }
            ],
            owners={"primary": "ana.lima@example.com", "secondary": "bo.chen@example.com", "team": "crm-data"},
            deadline={"expected_duration_minutes": 1},
            alerts={"severity": "high", "channels": ["teams_alerts", "smtp_alerts"]},
            schedule=None,
            retries={"count": 0},
        )
        # The same slow query on a daily schedule whose finish_by time has passed for its latest run: the run is
        # scheduled 3-4 h ago, due 1 h after that, so its deadline is missed as soon as the run exists.
        run_hour = (datetime.now(UTC).hour - 3) % 24
        late = {
            **slow,
            "name": f"{name}late",
            "schedule": f"0 {run_hour} * * *",
            "deadline": {"finish_by": f"{(run_hour + 1) % 24:02d}:00"},
        }
        # The same table read by a partitioned full load, three extract_land tasks side by side, started by hand.
        parts = sql_source_config(
            f"{name}parts",
            [{"name": "orders", **entity, "load": {"mode": "full", "partitions": {"count": 3}}}],
            schedule=None,
            retries={"count": 1, "delay_seconds": 5, "backoff_multiplier": 1},
        )
        configs = write_configs(tmp_path_factory.mktemp("configs"), config, slow, late, parts)
        yield {"name": name, "table": table, "writer": writer, "configs": configs, "late": late}


@pytest.fixture(scope="module")
def airflow(source: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("airflow")
    fault_dir = tmp_path_factory.mktemp("faults")  # faults armed here fire in the components' task processes
    env = airflow_env(
        home,
        source["configs"],
        **COMPONENT_SETTINGS,
        INGEST_FAULT_DIR=str(fault_dir),
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg://ingest:ingest@127.0.0.1:{PG_PORT}/airflow",
    )
    proc, _ = start_airflow(env, PORT)
    try:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        api = AirflowRest(f"http://127.0.0.1:{PORT}", password)
        dag_id = f"ingest_{source['name']}"
        api.wait_parsed(dag_id)
        yield {"api": api, "env": env, "dag_id": dag_id, "home": home, "faults": fault_dir}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


def _store() -> ControlStore:
    return ControlStore(control_engine())


def _watermark(name: str) -> str | None:
    store = _store()
    try:
        mark = store.get_watermark(name, "live")
        return mark.value if mark else None
    finally:
        store.engine.dispose()


def test_backfill_lands_each_day_and_leaves_the_live_watermark_alone(
    airflow: dict[str, Any], source: dict[str, Any]
) -> None:
    api, dag_id, name = airflow["api"], airflow["dag_id"], source["name"]
    # Unpausing starts the latest scheduled run: it loads `live` and sets its watermark.
    api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    scheduled = api.wait("the scheduled run", lambda: api.runs(dag_id))[0]["dag_run_id"]
    api.wait_run(dag_id, scheduled)
    watermark = _watermark(name)
    assert watermark is not None
    store = _store()
    history_before = len(store.history(name, "live"))

    result = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "airflow"),
            "backfill",
            "create",
            "--dag-id",
            dag_id,
            "--from-date",
            "2026-11-11",
            "--to-date",
            "2026-11-13",
            # Required for DAGs with depends_on_past (the incremental entity): redo failed runs, keep finished ones.
            "--reprocess-behavior",
            "failed",
        ],
        env=airflow["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    def backfill_runs() -> list[dict[str, Any]] | None:
        runs = [r for r in api.runs(dag_id) if r["run_type"] == "backfill"]
        return runs if len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs) else None

    runs = api.wait("3 backfill runs", backfill_runs, timeout=420)
    for run in runs:
        states = api.task_states(dag_id, run["dag_run_id"])
        assert run["state"] == "success", states
        assert [states[f"daily.{s}"] for s in ("extract_land", "validate", "publish", "commit")] == ["success"] * 4
        assert states["live.extract_land"] == "skipped"  # incremental: reloaded by reset/full_refresh, not backfill
        # The days run side by side, but their publishes take turns: none was fenced by another's producer.
        assert api.task_instances(dag_id, run["dag_run_id"])["daily.publish"]["try_number"] == 1

    lake = Lake.from_conn_id("lake_wasb", "landing")
    manifests = [n for n in lake.names(f"{name}/daily/") if n.endswith("_manifest.json")]
    # Named after each window's end; the scheduled run's partition (today) is there too.
    assert {"date=2026-11-12", "date=2026-11-13", "date=2026-11-14"} <= {n.split("/")[2] for n in manifests}
    with source["writer"].connect() as conn:
        for day in (11, 12, 13):
            start = datetime(2026, 11, day, tzinfo=UTC)
            expected = conn.execute(
                text(f"SELECT count(*) FROM {source['table']} WHERE ordered_at >= :a AND ordered_at < :b"),
                {"a": start, "b": start + timedelta(days=1)},
            ).scalar_one()
            run_id = next(r["dag_run_id"] for r in runs if r["logical_date"].startswith(f"{start:%Y-%m-%d}"))
            record = next(r for r in store.runs(name, "daily", limit=50) if r.run_id == run_id)
            assert (record.rows_landed, record.rows_published) == (expected, expected)
            assert record.files[0].startswith(f"{name}/daily/date={start + timedelta(days=1):%Y-%m-%d}/")
            assert record.moved_watermark is False
    assert _watermark(name) == watermark
    assert len(store.history(name, "live")) == history_before
    store.engine.dispose()


def test_kafka_down_fails_publish_without_moving_the_watermark_then_the_retry_is_exact(
    airflow: dict[str, Any], source: dict[str, Any]
) -> None:
    api, dag_id, name = airflow["api"], airflow["dag_id"], source["name"]
    with source["writer"].begin() as conn:
        conn.execute(text(f"UPDATE {source['table']} SET updated_at = now() - interval '1 second' WHERE order_id < 25"))
    watermark = _watermark(name)
    stack("stop", "kafka")
    try:
        run_id = api.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"]
        api.wait(
            "live.publish to fail its first try",
            lambda: api.task_states(dag_id, run_id).get("live.publish") == "up_for_retry",
            timeout=240,
        )
        assert _watermark(name) == watermark
        assert api.task_states(dag_id, run_id)["live.commit"] in (None, "none", "scheduled", "queued")
    finally:
        stack("start", "kafka")
    assert not [m for m in read_committed(f"ingest.{name}.live") if m[2]["ingest_run_id"] == run_id.encode()]

    api.wait_run(dag_id, run_id)
    store = _store()
    record = next(r for r in store.runs(name, "live") if r.run_id == run_id)
    assert record.rows_landed == record.rows_published == 25
    published = [m for m in read_committed(f"ingest.{name}.live") if m[2]["ingest_run_id"] == run_id.encode()]
    assert sorted(int(k) for k, _, _ in published) == list(range(25))  # each row once
    assert _watermark(name) != watermark
    store.engine.dispose()


def test_clearing_a_finished_run_adds_no_files_no_messages_and_keeps_the_watermark(
    airflow: dict[str, Any],
    source: dict[str, Any],
    deadline_runs: dict[str, str],  # started here, after the Kafka test: their 80 s queries overlap this test's runs
) -> None:
    api, dag_id, name = airflow["api"], airflow["dag_id"], source["name"]
    run = next(r for r in api.runs(dag_id) if r["run_type"] == "manual")
    run_id = run["dag_run_id"]
    lake = Lake.from_conn_id("lake_wasb", "landing")
    blobs = {e: lake.names(f"{name}/{e}/") for e in ("daily", "live")}
    messages = {e: len(read_committed(f"ingest.{name}.{e}")) for e in ("daily", "live")}
    watermark = _watermark(name)
    store = _store()
    records = len(store.runs(name, limit=100))

    api.call(
        "POST",
        f"/dags/{dag_id}/clearTaskInstances",
        json={"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True},
    )
    api.wait(
        "the cleared run to start again",
        lambda: api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"] != "success",
        timeout=60,
    )
    api.wait_run(dag_id, run_id)

    assert {e: lake.names(f"{name}/{e}/") for e in ("daily", "live")} == blobs
    assert {e: len(read_committed(f"ingest.{name}.{e}")) for e in ("daily", "live")} == messages
    assert _watermark(name) == watermark
    assert len(store.runs(name, limit=100)) == records
    store.engine.dispose()


@pytest.mark.timeout(600)  # two runs, a failed commit with its retry, and the clear
def test_a_failed_commit_holds_the_next_runs_extract_until_it_commits(
    airflow: dict[str, Any], source: dict[str, Any]
) -> None:
    api, dag_id, name = airflow["api"], airflow["dag_id"], source["name"]
    topic = f"ingest.{name}.live"
    # Unpaused (the earlier tests of the module have done so) and with no run going, whatever ran before.
    api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    api.wait(
        "earlier runs to finish",
        lambda: (runs := api.runs(dag_id)) and all(r["state"] in ("success", "failed") for r in runs),
    )

    def touch(first: int, last: int) -> None:
        with source["writer"].begin() as conn:
            conn.execute(
                text(
                    f"UPDATE {source['table']} SET updated_at = now() - interval '1 second' "
                    "WHERE order_id BETWEEN :a AND :b"
                ),
                {"a": first, "b": last},
            )

    # Run A publishes rows 30..39 of `live`, then its commit fails on every try (the control DB refusing it).
    touch(30, 39)
    armed = airflow["faults"] / f"commit.in_transaction@{name}.live"
    armed.write_text(json.dumps({"action": "raise", "once": False}))
    # Runs with logical dates, as scheduled runs have (Airflow's depends_on_past ignores runs without one; those
    # are held by extract_land itself, see the fault matrix).
    now = datetime.now(UTC).replace(microsecond=0)
    run_a = api.call(
        "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": (now - timedelta(minutes=2)).isoformat()}
    )["dag_run_id"]
    api.wait(
        "run A to fail in live.commit",
        lambda: api.call("GET", f"/dags/{dag_id}/dagRuns/{run_a}")["state"] == "failed",
        timeout=300,
    )
    assert api.task_states(dag_id, run_a)["live.commit"] == "failed"

    # Run B: rows 40..44 change too. Its live.extract_land must wait for A's commit, or it would publish 30..39
    # again (the watermark has not moved).
    touch(40, 44)
    run_b = api.call(
        "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": (now - timedelta(minutes=1)).isoformat()}
    )["dag_run_id"]
    path = f"/dags/{dag_id}/dagRuns/{run_b}/taskInstances/live.extract_land/dependencies"

    def waiting_on_a() -> bool:
        reasons = [d["reason"] for d in api.call("GET", path)["dependencies"]]
        return any("wait_for_downstream" in reason for reason in reasons)

    api.wait("run B's live.extract_land to wait for run A's commit", waiting_on_a, timeout=180)
    assert api.task_states(dag_id, run_b)["live.extract_land"] in (None, "none", "scheduled")
    # B holds its DAG run open while it waits: A, cleared below, must be able to start beside it.
    api.wait("run B to be running", lambda: api.call("GET", f"/dags/{dag_id}/dagRuns/{run_b}")["state"] == "running")

    # The control DB is back: clearing A's commit commits A, and B then runs by itself.
    armed.unlink()
    api.call(
        "POST",
        f"/dags/{dag_id}/clearTaskInstances",
        json={"dag_run_id": run_a, "task_ids": ["live.commit"], "dry_run": False, "reset_dag_runs": True},
    )
    api.wait_run(dag_id, run_a)
    api.wait_run(dag_id, run_b)
    published = defaultdict(list)
    for key, _, headers in read_committed(topic):
        published[headers["ingest_run_id"].decode()].append(int(key))
    assert sorted(published[run_a]) == list(range(30, 40))
    assert sorted(published[run_b]) == list(range(40, 45))  # only the new rows, each once


def test_a_partition_killed_mid_run_is_retried_alone_and_each_row_is_published_once(
    airflow: dict[str, Any], source: dict[str, Any]
) -> None:
    api, name = airflow["api"], f"{source['name']}parts"
    dag_id = f"ingest_{name}"
    api.wait_parsed(dag_id)
    # Task processes die (SIGKILL), as on a worker that went away: partition 1's extract_land after landing its
    # first batch, and partition 2's publish with its Kafka transaction open, after producing its first batch.
    armed = [airflow["faults"] / f"land.batch@{name}.orders.p1", airflow["faults"] / f"publish.batch@{name}.orders.p2"]
    for fault in armed:
        fault.write_text(json.dumps({"action": "kill"}))
    api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    run_id = api.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"]
    api.wait_run(dag_id, run_id, timeout=300)

    assert not [fault.name for fault in armed if fault.exists()], "a fault never fired"
    tis = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})["task_instances"]
    tries = {
        stage: {ti["map_index"]: ti["try_number"] for ti in tis if ti["task_id"] == f"orders.{stage}"}
        for stage in ("extract_land", "publish")
    }
    # Only the killed partitions ran again.
    assert tries == {"extract_land": {0: 1, 1: 2, 2: 1}, "publish": {0: 1, 1: 1, 2: 2}}, tries
    published = Counter(
        int(key)
        for key, _, headers in read_committed(f"ingest.{name}.orders")
        if headers["ingest_run_id"] == run_id.encode()
    )
    assert set(published) == set(range(195))
    assert max(published.values()) == 1, "a row was published more than once"
    store = _store()
    try:
        record = store.committed_run(name, "orders", run_id)
    finally:
        store.engine.dispose()
    assert record is not None
    assert record.rows_landed == record.rows_published == 195


def _deadline_posts(webhook_sink_url: str, source: str) -> list[dict[str, Any]]:
    """The Teams posts the webhook sink holds about a missed deadline of `source`."""
    posts = requests.get(f"{webhook_sink_url}/_posts", params={"channel": "teams"}, timeout=10).json()
    return [p for p in posts if f"{source}: deadline missed" in json.dumps(p["body"])]


def _deadline_mails(smtp_sink_url: str, source: str) -> list[dict[str, Any]]:
    """The e-mails the SMTP sink holds about a missed deadline of `source`."""
    return list(
        requests.get(f"{smtp_sink_url}/_messages", params={"contains": f"{source}: deadline missed"}, timeout=10).json()
    )


@pytest.fixture(scope="module")
def deadline_runs(airflow: dict[str, Any], source: dict[str, Any]) -> dict[str, str]:
    """Both deadline sources' runs, started together: each runs an 80 s query, so one after the other they cost
    the suite about 3 minutes each. Started by the tests after the Kafka one (which stops the broker; these runs
    publish too), not with the module, so that they overlap the module's later runs.
    Returns the DAG ids by kind ("slow": a triggered run; "late": the scheduler's)."""
    api = airflow["api"]
    dag_ids = {kind: f"ingest_{source['name']}{kind}" for kind in ("slow", "late")}
    for dag_id in dag_ids.values():
        api.wait_parsed(dag_id)
    api.call("PATCH", f"/dags/{dag_ids['late']}", json={"is_paused": False})  # the scheduler starts its latest run
    api.call("PATCH", f"/dags/{dag_ids['slow']}", json={"is_paused": False})
    api.call("POST", f"/dags/{dag_ids['slow']}/dagRuns", json={"logical_date": None})
    return dag_ids


def test_a_missed_deadline_posts_an_alert_under_the_scheduler(
    airflow: dict[str, Any],
    source: dict[str, Any],
    deadline_runs: dict[str, str],
    webhook_sink_url: str,
    smtp_sink_url: str,
) -> None:
    api, name, dag_id = airflow["api"], f"{source['name']}slow", deadline_runs["slow"]
    (run,) = api.runs(dag_id)

    (post,) = api.wait("the deadline alert", lambda: _deadline_posts(webhook_sink_url, name), timeout=240)
    card = post["body"]["attachments"][0]["content"]
    assert (
        card["body"][0]["text"] == f"[HIGH] {name}: deadline missed, the run is still going 1 min after it was queued"
    )
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Run"] == run["dag_run_id"]
    assert run["run_type"] == "manual"
    assert facts["Owner"] == "ana.lima@example.com"
    assert facts["Secondary owner"] == "bo.chen@example.com"
    # Mailed to the owner in the same callback, right after the card.
    (mail,) = api.wait("the deadline e-mail", lambda: _deadline_mails(smtp_sink_url, name), timeout=60)
    assert mail["rcpt_to"] == ["ana.lima@example.com"]
    assert mail["subject"] == card["body"][0]["text"]
    assert [line.split()[-1] for line in mail["text"].splitlines() if line.startswith("Run:")] == [run["dag_run_id"]]
    # The run itself still finishes: a deadline alerts, it does not stop anything.
    api.wait_run(dag_id, run["dag_run_id"], timeout=400)


def test_a_missed_finish_by_time_posts_an_alert_under_the_scheduler(
    airflow: dict[str, Any], source: dict[str, Any], deadline_runs: dict[str, str], webhook_sink_url: str
) -> None:
    api, name, dag_id = airflow["api"], f"{source['name']}late", deadline_runs["late"]

    (post,) = api.wait("the finish_by alert", lambda: _deadline_posts(webhook_sink_url, name), timeout=240)
    card = post["body"]["attachments"][0]["content"]
    due = source["late"]["deadline"]["finish_by"]
    assert card["body"][0]["text"] == f"[HIGH] {name}: deadline missed, the day's run has not finished by {due} UTC"
    (run,) = api.runs(dag_id)
    assert run["run_type"] == "scheduled"
    assert {f["title"]: f["value"] for f in card["body"][1]["facts"]}["Run"] == run["dag_run_id"]
    api.wait_run(dag_id, run["dag_run_id"], timeout=400)
