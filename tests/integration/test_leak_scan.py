"""The leak scan: canary values go through every sample DAG, then everything the platform wrote is searched for them.

Canaries: a personal e-mail, phone number and name (in SQL, REST and file sources, as declared PII columns, nested
and undeclared REST fields, a column the SQL table gained after the config was written, a file's extra field, and
values that do not fit their column, so they are quarantined or fail the read), and secrets: a database password, an
API key sent as a query parameter, a token sent as `access_token` to a source that does not answer, and a Teams
webhook's `sig` (one Teams channel answers, one does not).

The sources are the three sample configs (include/source_configs: crm, orders_api, partner_files) under names of this
module's own, reading tables, a sample API process and an SFTP folder of their own, with their alerts going to
channels of their own on the webhook sink; plus one REST source whose API does not answer. Each DAG runs once
(`airflow dags test`): the SQL one fails (a query's e-mail column is declared integer), the unanswering one fails,
the REST and file ones quarantine records and warn; failures and warnings are alerted.

Places scanned: the general landing container(s), the sensitive container, the Kafka topics (read_committed and
read_uncommitted), the task logs (`airflow dags test` runs the tasks in-process and prints their log lines; log
files, if any, are read too), the Airflow metadata database (XComs among it), the control database's tables (every
column of the sources' rows), the alert posts the webhook sink received, the manifests and the generated docs
(`ingest docs` and each DAG's runbook). A PII canary may appear raw only in the
sensitive container, and must appear there; a secret canary appears nowhere. The counts per place are printed and
each must be non-zero, so a scan of nothing cannot pass.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pyarrow.parquet as pq
import pytest
import requests
from airflow.providers.sftp.hooks.sftp import SFTPHook
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import MetaData, create_engine, select, text

from ingestion.state.engine import control_engine
from tests.integration.support import (
    REPO,
    bootstrap_servers,
    dags_test,
    free_port,
    read_committed,
    sample_api_process,
    sqlite_airflow_env,
    write_configs,
)

TAG = uuid.uuid4().hex[:6]
EMAIL = f"leak.{TAG}@canary.example"
PHONE = f"+4915190{int(TAG, 16) % 10**6:06d}"
NAME = f"Canary{TAG.upper()} Leakmann"
PII = {"email": EMAIL, "phone": PHONE, "name": NAME}
PASSWORD = f"PwCanary-{uuid.uuid4().hex[:12]}"
API_KEY = f"Key+Canary/{uuid.uuid4().hex[:12]}=="  # characters a URL encodes
TOKEN = f"TokCanary.{uuid.uuid4().hex[:12]}"
SIG = f"SigCanary{uuid.uuid4().hex[:16]}"
SECRETS = {"password": PASSWORD, "api_key": API_KEY, "token": TOKEN, "webhook_sig": SIG}

CONFIGS = REPO / "include" / "source_configs"
PG_PORT = os.environ.get("STACK_POSTGRES_PORT", "25432")
SQL, API, FILES, DOWN = f"lk{TAG}crm", f"lk{TAG}api", f"lk{TAG}files", f"lk{TAG}down"
TEAMS, SLACK = f"teams{TAG}", f"slack{TAG}"  # webhook sink channels of this module's own
TEAMS_DOWN = f"teamsdown{TAG}"  # a Teams webhook that does not answer: its failed posts are logged
CHANNELS = [TEAMS, SLACK, TEAMS_DOWN]
RUNS = {
    SQL: ("2026-11-03T02:00:00+00:00", False),  # orders of 11-02 02:00 to 11-03 02:00; `contacts` fails
    API: ("2026-11-21T00:00:00+00:00", True),
    FILES: ("2026-11-21T06:00:00+00:00", True),
    DOWN: ("2026-11-21T00:00:00+00:00", False),
}


def _spellings(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote(value), quote_plus(value)}


class Scan:
    """What was searched, per place, and what was found where."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.found: dict[str, set[str]] = defaultdict(set)  # place -> canary names
        self.evidence: dict[tuple[str, str], str] = {}

    def text(self, place: str, what: str, content: str, *, count: int = 1) -> None:
        self.counts[place] += count
        for kind, canaries in (("pii", PII), ("secret", SECRETS)):
            for name, value in canaries.items():
                spellings = {value} if kind == "pii" else _spellings(value)
                if any(s in content for s in spellings):
                    self.found[place].add(f"{kind}:{name}")
                    self.evidence.setdefault((place, f"{kind}:{name}"), what)

    def report(self) -> str:
        lines = ["leak scan: place                      items  canaries found"]
        for place, count in sorted(self.counts.items()):
            lines.append(f"  {place:<32} {count:>6}  {', '.join(sorted(self.found[place])) or '-'}")
        return "\n".join(lines)


def _copy(config_file: str, name: str, channels: list[str], **changes: Any) -> dict[str, Any]:
    config = json.loads((CONFIGS / config_file).read_text())
    config.pop("$schema", None)
    config.update(
        name=name,
        retries={"count": 0},
        kafka={"publish_timeout_seconds": 10},
        alerts={"severity": "high", "channels": channels},
        **changes,
    )
    return config


# -- sources ---------------------------------------------------------------------------------------------------------


def _sql_source(conn_id: str) -> dict[str, Any]:
    """crm.json on tables of this module's own; customers evolves with a column the table gained; plus `contacts`,
    a query whose e-mail column the config declares integer (the read fails, naming the row)."""
    config = _copy("crm.json", SQL, CHANNELS, conn_id=conn_id)
    for entity in config["entities"]:
        entity["locator"]["table"] = f"{SQL}_{entity['name']}"
        if entity["name"] == "customers":
            entity["schema_drift"] = "evolve"
    config["entities"].append(
        {
            "name": "contacts",
            "locator": {"kind": "sql", "query": f"SELECT id, contact AS contact_ref FROM public.{SQL}_contacts"},
            "primary_key": ["id"],
            "columns": [
                {"name": "id", "type": "bigint", "nullable": False},
                {"name": "contact_ref", "type": "integer", "pii": True, "pii_strategy": "hash"},
            ],
            "load": {"mode": "full"},
        }
    )
    return config


SQL_TABLES = {
    "customers": "customer_id integer PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, phone text, "
    "country_code text, credit_limit numeric(12,2), is_active boolean NOT NULL, created_at timestamptz NOT NULL, "
    "updated_at timestamptz NOT NULL, secondary_email text",  # the last one is drift: the config does not declare it
    "orders": "order_id bigint PRIMARY KEY, customer_id integer NOT NULL, status text NOT NULL, "
    "amount numeric(12,2) NOT NULL, currency text NOT NULL, note text, ordered_at timestamptz NOT NULL, "
    "updated_at timestamptz NOT NULL",
    "contacts": "id bigint PRIMARY KEY, contact text",
}
SQL_ROWS = {
    "customers": "INSERT INTO {t} VALUES "
    "(1, :email, :name, :phone, 'DE', 100.00, true, now() - interval '3 days', now() - interval '2 hours', :email), "
    "(2, 'plain@example.org', 'Plain Person', NULL, 'xx', NULL, true, now() - interval '3 days', "
    "now() - interval '2 hours', NULL)",  # 'xx' fails the regex warn check: a warning alert
    "orders": "INSERT INTO {t} VALUES (1, 1, 'paid', 10.00, 'EUR', 'call ' || :phone, '2026-11-02T12:00:00Z', now()), "
    "(2, 2, 'new', 5.00, 'EUR', NULL, '2026-11-02T13:00:00Z', now())",
    "contacts": "INSERT INTO {t} VALUES (1, :email)",
}


@pytest.fixture(scope="module")
def sql_conn() -> Iterator[dict[str, Any]]:
    """A role of its own with the canary password, reading three tables of this module's own in the CRM database."""
    from stack.settings import Settings

    role = f"lk{TAG}"
    # A role is the cluster superuser's to create: the stack's local socket (trust), as its seed script connects.
    socket_dir = Settings.from_env().data_dir / "postgres"
    writer = create_engine(f"postgresql+psycopg://postgres@/crm?host={socket_dir}&port={PG_PORT}")
    tables = [f"{SQL}_{name}" for name in SQL_TABLES]
    try:
        with writer.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"))
            for name, columns in SQL_TABLES.items():
                table = f"{SQL}_{name}"
                conn.execute(text(f"CREATE TABLE {table} ({columns})"))
                conn.execute(text(SQL_ROWS[name].format(t=table)), PII)
                conn.execute(text(f"GRANT SELECT ON {table} TO {role}"))
        yield {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": int(PG_PORT),
            "login": role,
            "password": PASSWORD,
            "schema": "crm",
        }
    finally:
        with writer.begin() as conn:
            for table in tables:
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        writer.dispose()


def _rest_canaries(api: str) -> None:
    """Three of the sample API's orders carry the canaries: a declared PII field (shipping.city), nested and
    top-level fields no column declares, and an amount that is a phone number (quarantined)."""
    headers = {"X-API-Key": API_KEY}
    seed = requests.get(f"{api}/v1/orders", params={"page_size": 3}, headers=headers, timeout=10).json()["data"]
    first, second, third = (dict(record) for record in seed)
    first["shipping"] = {"city": NAME, "country": "DE", "street": f"{NAME} Str. 1", "contact": {"email": EMAIL}}
    second["customer_email"] = EMAIL
    second["customer"] = {"phone": PHONE, "name": NAME}
    third["amount"] = f"tel {PHONE}"  # does not fit decimal(12,2): quarantined with the raw record
    response = requests.post(f"{api}/_control/upsert", json={"records": [first, second, third]}, timeout=10)
    response.raise_for_status()


def _api_source(port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    connection = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": port,
        "schema": "http",
        "password": API_KEY,
        "extra": {"auth": "api_key", "api_key_param": "api_key"},
    }
    return _copy("orders_api.json", API, CHANNELS, conn_id=f"{API}_conn"), connection


def _down_source() -> tuple[dict[str, Any], dict[str, Any]]:
    connection = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": free_port(),
        "schema": "http",
        "password": TOKEN,
        "extra": {"auth": "api_key", "api_key_param": "access_token"},
    }
    config = _copy(
        "orders_api.json",
        DOWN,
        CHANNELS,
        conn_id=f"{DOWN}_conn",
        http={"max_attempts": 2, "max_retry_wait_seconds": 1},
    )
    return config, connection


def _files_source() -> dict[str, Any]:
    """partner_files.json on an SFTP folder of this module's own: the canaries in declared PII columns, a file
    field no column declares, and values that do not fit (quarantined)."""
    folder = f"inbound/{FILES}"
    customers = (
        "partner_customer_id,email,name,country,signup_date,lifetime_value\n"
        f"P-9001,{EMAIL},{NAME},DE,2026-10-30,12.50\n"
        f"P-9002,{EMAIL},{NAME},DE,tel {PHONE},1.00\n"  # the phone in a date column: quarantined
    )
    event = {"event_id": "e-9", "partner_customer_id": "P-9001", "type": "login", "at": "2026-11-01T08:00:00Z"}
    unfit = {"event_id": "e-10", "partner_customer_id": "P-9001", "type": "purchase", "at": "2026-11-01T09:00:00Z"}
    events = "\n".join(
        [
            json.dumps({**event, "email": EMAIL, "profile": {"phone": PHONE}}),  # fields no column declares
            json.dumps({**unfit, "amount": f"tel {PHONE}"}),  # does not fit decimal(12,2): quarantined
            "",
        ]
    )
    orders = (
        "partner_order_id,partner_customer_id,amount,currency,ordered_at\nO-1,P-9001,3.50,EUR,2026-11-02T10:00:00Z\n"
    )
    hook = SFTPHook(ssh_conn_id="partner_sftp")
    with hook.get_managed_conn() as client:
        client.mkdir(folder)
        for file_name, content in (
            ("customers_2026-11-01.csv", customers.encode()),
            ("events_2026-11-01.jsonl", events.encode()),
            ("orders_2026-11-02.csv.gz", gzip.compress(orders.encode())),
        ):
            client.putfo(io.BytesIO(content), f"{folder}/{file_name}")
    config = _copy("partner_files.json", FILES, CHANNELS)
    for entity in config["entities"]:
        entity["locator"].update(remote_path=folder, settle_seconds=1)
    return config


def _alert_connections(sink: str) -> dict[str, dict[str, Any]]:
    port = int(sink.rsplit(":", 1)[1])
    query = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
    down = free_port()
    return {
        TEAMS: {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": port,
            "schema": "http",
            "password": f"{sink}/hooks/{TEAMS}?{query}",
        },
        TEAMS_DOWN: {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": down,
            "schema": "http",
            "password": f"http://127.0.0.1:{down}/hooks/{TEAMS_DOWN}?{query}",
        },
        SLACK: {"conn_type": "slackwebhook", "password": f"{sink}/hooks/{SLACK}"},
    }


@pytest.fixture(scope="module")
def runs(sql_conn: dict[str, Any], webhook_sink_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every source's DAG run once; what the scan needs."""
    started = datetime.now(UTC) - timedelta(seconds=5)
    with sample_api_process(API_KEY) as api:
        _rest_canaries(api)
        api_config, api_conn = _api_source(int(api.rsplit(":", 1)[1]))
        down_config, down_conn = _down_source()
        configs = [_sql_source(f"{SQL}_conn"), api_config, _files_source(), down_config]
        config_dir = write_configs(tmp_path_factory.mktemp("configs"), *configs)
        home = tmp_path_factory.mktemp("airflow")
        connections = {
            f"{SQL}_conn": sql_conn,
            f"{API}_conn": api_conn,
            f"{DOWN}_conn": down_conn,
            **_alert_connections(webhook_sink_url),
        }
        for conn_id, connection in connections.items():
            os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
        try:
            env = sqlite_airflow_env(home, config_dir)
            outputs = {}
            for source, (logical_date, succeed) in RUNS.items():
                outputs[source] = dags_test(env, f"ingest_{source}", logical_date, succeed=succeed)
        finally:
            for conn_id in connections:
                os.environ.pop(f"AIRFLOW_CONN_{conn_id.upper()}", None)
    return {"started": started, "home": home, "config_dir": config_dir, "outputs": outputs, "configs": configs}


# -- places ----------------------------------------------------------------------------------------------------------


def _cells(rows: Iterable[Any]) -> Iterator[str]:
    for row in rows:
        for value in row:
            if value is None:
                continue
            if isinstance(value, bytes | bytearray | memoryview):
                raw = bytes(value)
                with contextlib.suppress(zlib.error):  # the serialized DAG is stored zlib-compressed
                    raw = zlib.decompress(raw)
                yield raw.decode("utf-8", "replace")
            else:
                yield value if isinstance(value, str) else json.dumps(value, default=str)


def _blob_text(name: str, data: bytes) -> tuple[str, int]:
    """The blob's content as text (Parquet: every value of every column) and the number of items in it."""
    if name.endswith(".parquet"):
        table = pq.read_table(io.BytesIO(data))
        values = [json.dumps(table.column(i).to_pylist(), default=str) for i in range(table.num_columns)]
        return "\n".join([*table.column_names, *values]), max(table.num_rows, 1)
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace"), 1


def _scan_lake(scan: Scan, started: datetime) -> None:
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    service = WasbHook(wasb_conn_id="lake_wasb").get_conn()
    for container in service.list_containers():
        client = service.get_container_client(container.name)
        for blob in client.list_blobs():
            if blob.last_modified < started:
                continue  # written before this module ran: not this scan's (the canaries are new)
            data = client.download_blob(blob.name).readall()
            content, items = _blob_text(blob.name, data)
            if blob.name.endswith("_manifest.json"):
                place = "manifests"
            elif container.name == "sensitive":
                place = "sensitive container (rows)"
            else:
                place = f"general container {container.name!r} (rows)"
            scan.text(place, f"{container.name}/{blob.name}", content, count=items)


def _read_uncommitted(topic: str) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers(),
            "group.id": f"leak-{uuid.uuid4().hex}",
            "isolation.level": "read_uncommitted",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out: list[tuple[bytes | None, bytes | None, dict[str, bytes]]] = []
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while datetime.now(UTC) < deadline:
            positions = consumer.position([TopicPartition(topic, p) for p in partitions])
            if all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions):
                break
            for message in consumer.consume(num_messages=1000, timeout=0.5):
                if not message.error():
                    out.append((message.key(), message.value(), dict(message.headers() or [])))
        return out
    finally:
        consumer.close()


def _scan_kafka(scan: Scan, topics: list[str]) -> None:
    for place, read in (("kafka read_committed", read_committed), ("kafka read_uncommitted", _read_uncommitted)):
        for topic in topics:
            for key, value, headers in read(topic):
                parts = [key or b"", value or b"", *headers.values()]
                scan.text(place, topic, "\n".join(p.decode("utf-8", "replace") for p in parts))


def _scan_airflow_db(scan: Scan, home: Path) -> None:
    db = sqlite3.connect(home / "airflow.db")
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()  # names from sqlite_master
            place = "xcom" if table == "xcom" else "airflow metadata (other tables)"
            for cell in _cells(rows):
                scan.text(place, f"airflow.db {table}", cell)
    finally:
        db.close()


def _scan_task_logs(scan: Scan, home: Path, outputs: dict[str, str]) -> None:
    for source, output in outputs.items():
        for line in output.splitlines():
            scan.text("task logs", f"dags test output of {source}", line)
    for path in (home / "logs").rglob("*") if (home / "logs").exists() else []:
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                scan.text("task logs", str(path), line)


def _scan_control_db(scan: Scan) -> None:
    engine = control_engine(allow_embedded=False)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                query = select(table)
                if "source" in table.c:
                    query = query.where(table.c.source.like(f"lk{TAG}%"))
                for cell in _cells(conn.execute(query)):
                    scan.text("control DB", table.name, cell)
    finally:
        engine.dispose()


def _scan_webhook_sink(scan: Scan, sink: str) -> None:
    for channel in (TEAMS, SLACK):
        for post in requests.get(f"{sink}/_posts", params={"channel": channel}, timeout=10).json():
            scan.text("alert posts (webhook sink)", channel, json.dumps(post["body"], ensure_ascii=False))


def _scan_docs(scan: Scan, config_dir: Path, configs: list[dict[str, Any]]) -> None:
    from ingestion.config.loader import load_configs
    from ingestion.planner import plan_source
    from ingestion.runbook import render_runbook

    for fmt in ("md", "csv"):
        result = subprocess.run(
            [sys.executable, "-m", "ingestion", "--config-dir", str(config_dir), "docs", "--format", fmt],
            env={**os.environ, "PYTHONPATH": str(REPO / "plugins")},
            capture_output=True,
            text=True,
            check=True,
        )
        for line in result.stdout.splitlines():
            scan.text("generated docs", f"ingest docs --format {fmt}", line)
    loaded = load_configs(config_dir, "dev")
    assert sorted(loaded.configs) == sorted(c["name"] for c in configs), loaded.errors
    for config in loaded.configs.values():
        scan.text("generated docs", f"runbook of {config.name}", render_runbook(plan_source(config, loaded.env)))


def test_canaries_reach_only_the_sensitive_container(
    runs: dict[str, Any], webhook_sink_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = Scan()
    _scan_lake(scan, runs["started"])
    topics = [f"ingest.{c['name']}.{e['name']}" for c in runs["configs"] if c["name"] != DOWN for e in c["entities"]]
    _scan_kafka(scan, [t for t in topics if not t.endswith(".contacts")])  # contacts never got past its read
    _scan_task_logs(scan, runs["home"], runs["outputs"])
    _scan_airflow_db(scan, runs["home"])
    _scan_control_db(scan)
    _scan_webhook_sink(scan, webhook_sink_url)
    _scan_docs(scan, runs["config_dir"], runs["configs"])
    with capsys.disabled():
        print("\n" + scan.report())

    expected = {
        "sensitive container (rows)",
        "general container 'landing' (rows)",
        "manifests",
        "kafka read_committed",
        "kafka read_uncommitted",
        "task logs",
        "xcom",
        "airflow metadata (other tables)",
        "control DB",
        "alert posts (webhook sink)",
        "generated docs",
    }
    assert expected <= set(scan.counts), f"places with nothing scanned: {expected - set(scan.counts)}"
    assert all(count > 0 for count in scan.counts.values()), scan.report()
    leaks = {
        (place, canary): scan.evidence[(place, canary)]
        for place, canaries in scan.found.items()
        for canary in canaries
        if place != "sensitive container (rows)" or canary.startswith("secret:")
    }
    assert leaks == {}, scan.report()
    # Not vacuous: the failures the canaries were meant to ride on happened...
    outputs = runs["outputs"]
    assert "column 'contact_ref': row 1 of the read" in outputs[SQL]
    assert "SourceUnreachableError" in outputs[DOWN]
    assert any(f"to {TEAMS_DOWN} not sent" in output for output in outputs.values())
    # ...and the personal data did go through, to where it belongs.
    assert scan.found["sensitive container (rows)"] == {f"pii:{name}" for name in PII}, scan.report()
