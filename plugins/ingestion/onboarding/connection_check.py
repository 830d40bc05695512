"""`ingest test-connection <source>`: prove, from where it runs, that a source's DAG could run. Each check is one line.

- The source, through its Airflow connection and the hooks the DAG uses (extract/sql_engine, extract/http_client,
  SFTPHook): per entity one row (SQL), the first page (REST) or the newest matching file's header (SFTP), compared
  with the declared columns by the rules the pipeline applies (validate/drift.py for tables, the record typer for
  pages, the declared names for file headers).
- The landing containers: a probe blob is written and deleted under `_probe/`, a prefix no reader lists.
- The Kafka topics: a transactional producer (its own transactional id, so a running publish is never fenced) sends
  one probe message and aborts its transaction: read_committed consumers never see it. A topic that does not exist
  yet is created as the first publish would create it.

Lines name the entity, the field, the container or the topic, never a value read from the source or a secret.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingestion.errors import IngestionError
from ingestion.redact import redact

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ingestion.planner import DagPlan, EntityPlan

PROBE_PREFIX = "_probe/"  # landing blobs are under <source>/<entity>/: nothing lists this prefix
KAFKA_TIMEOUT_SECONDS = 15.0
FIRST_BYTES = 1 << 20  # what is read of a file to sample it
SAMPLE_RECORDS = 100


@dataclass(frozen=True)
class CheckLine:
    ok: bool
    what: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'}  {self.what}"


def said(exc: BaseException, where: str) -> str:
    """An error in words fit to print: the platform's own messages are already safe; a driver's keep their code and
    first line without quoted values; anything else its type and first line, credentials masked."""
    from ingestion.extract.database_errors import database_error, is_database_error

    if isinstance(exc, IngestionError):
        text = str(exc)
    elif is_database_error(exc):
        text = str(database_error(where, exc)).removesuffix(" (not retried: the same query would fail the same way)")
    else:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        text = redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    return text.removeprefix(f"{where}: ")  # the line names where already


def check_source(plan: DagPlan) -> Iterator[CheckLine]:
    """Every check of the source's DAG, in order: the source, the landing containers, the topics."""
    kind = plan.config.kind.value
    if kind == "sql":
        yield from _sql_checks(plan)
    elif kind == "http":
        yield from _http_checks(plan)
    else:
        yield from _sftp_checks(plan)
    yield from _landing_checks(plan)
    yield from _topic_checks(plan)


# -- SQL ---------------------------------------------------------------------------------------------------------


def _sql_checks(plan: DagPlan) -> Iterator[CheckLine]:
    from sqlalchemy import select

    from ingestion.extract.sql_engine import source_engine

    name, conn_id = plan.config.name, plan.config.conn_id
    try:
        engine = source_engine(conn_id, connect_args=_connect_timeout(conn_id))
        with engine.connect() as conn:
            conn.execute(select(1))
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{name}: connect through {conn_id}: {said(exc, name)}")
        return
    try:
        yield CheckLine(True, f"{name}: connected through {conn_id} ({engine.dialect.name})")
        for entity in plan.entities:
            yield from _sql_entity(engine, entity)
    finally:
        engine.dispose()


def _connect_timeout(conn_id: str) -> dict[str, Any]:
    """A connect timeout for the dialect's driver, so an unreachable host fails the check in seconds."""
    from ingestion.extract.sql_engine import source_url

    backend = source_url(conn_id).get_backend_name()
    return {"connect_timeout": 10} if backend in ("postgresql", "mysql", "mariadb") else {}


def _sql_entity(engine: Engine, plan: EntityPlan) -> Iterator[CheckLine]:
    from ingestion.extract.sql_query import select_rows, source_relation
    from ingestion.extract.window import Window

    entity = plan.entity
    where = f"{plan.source}.{entity.name}"
    locator = entity.locator
    assert locator.kind == "sql"
    relation = source_relation(table_name=locator.table, schema=locator.schema_name, query=locator.query)
    if locator.table is not None:
        yield from _sql_drift(engine, plan)
    try:
        with engine.connect() as conn:
            statement = select_rows(relation, [c.name for c in entity.columns], None, Window("full")).limit(1)
            rows = len(conn.execute(statement).fetchall())
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{where}: read one row of the declared columns: {said(exc, where)}")
        return
    yield CheckLine(True, f"{where}: read {rows} row(s) of the {len(entity.columns)} declared column(s)")


def _sql_drift(engine: Engine, plan: EntityPlan) -> Iterator[CheckLine]:
    """The table's columns against the declared ones by the pipeline's drift rules. A declared column the table lacks,
    or that no longer fits its type or nullability, fails; so does anything the entity's schema_drift policy would
    fail the run for. A new column at the source is only noted under `warn` and `evolve`."""
    from sqlalchemy.exc import NoSuchTableError

    from ingestion.extract.source_schema import reflect_columns
    from ingestion.validate.drift import compare, landed_columns
    from ingestion.validate.errors import SchemaDriftError

    entity = plan.entity
    where = f"{plan.source}.{entity.name}"
    locator = entity.locator
    assert locator.kind == "sql"
    table = f"{locator.schema_name}.{locator.table}" if locator.schema_name else str(locator.table)
    try:
        reflected = reflect_columns(engine, str(locator.table), locator.schema_name)
    except NoSuchTableError:
        yield CheckLine(False, f"{where}: table {table} not found (or not visible to the connection's user)")
        return
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{where}: read the columns of {table}: {said(exc, where)}")
        return
    drift = compare(entity.columns, reflected)
    try:
        landed_columns(entity.columns, drift, entity.schema_drift, where)
        run_fails = False
    except SchemaDriftError:
        run_fails = True
    policy = f"schema_drift {entity.schema_drift}"
    for name in drift.missing:
        yield CheckLine(False, f"{where}: column {name} is declared but not in {table}")
    for change in drift.retyped:
        found = change["source"] or f"{change['native']} (no logical type)"
        yield CheckLine(
            False, f"{where}: column {change['name']} is declared {change['declared']}, {table} has {found}"
        )
    for name in drift.nullable:
        yield CheckLine(False, f"{where}: column {name} is declared not null, {table} allows NULL")
    for added in drift.added:
        note = "the run would fail" if run_fails else "not landed" if entity.schema_drift == "warn" else "landed"
        yield CheckLine(
            not run_fails,
            f"{where}: column {added['name']} ({added['native']}) is in {table}, not declared ({policy}: {note})",
        )
    if not drift.any:
        yield CheckLine(True, f"{where}: the {len(entity.columns)} declared column(s) match {table}")


# -- REST --------------------------------------------------------------------------------------------------------


def _http_checks(plan: DagPlan) -> Iterator[CheckLine]:
    for entity in plan.entities:
        yield from _http_entity(entity)


def _http_entity(plan: EntityPlan) -> Iterator[CheckLine]:
    """The endpoint's first page, typed by the declared columns as a run types it; every record that would go to the
    quarantine fails, naming the field and why; so does a declared field no record of the page has."""
    from ingestion.extract.http_client import ApiClient
    from ingestion.extract.http_pages import pages

    entity = plan.entity
    where = f"{plan.source}.{entity.name}"
    locator = entity.locator
    assert locator.kind == "http"
    try:
        client = ApiClient(plan.conn_id, plan.http, where=where)
        try:
            page = next(iter(pages(client, locator, dict(locator.params), where=where)))  # the first page only
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{where}: GET {locator.endpoint} through {plan.conn_id}: {said(exc, where)}")
        return
    records = page.records
    yield CheckLine(True, f"{where}: GET {locator.endpoint} through {plan.conn_id}: {len(records)} record(s) on page 1")
    yield from _record_checks(where, records, plan, "page 1", locator.extra_column)


def _record_checks(
    where: str, records: list[Any], plan: EntityPlan, origin: str, extra_column: str | None = None
) -> Iterator[CheckLine]:
    """JSON records typed by the declared columns as a run types them: each reason a record would be quarantined
    for fails, naming the field; a nullable field no record has is only noted (JSON leaves out empty fields)."""
    from ingestion.extract.record_typing import RecordTyper, numbered, split_record

    entity = plan.entity
    if not records:
        yield CheckLine(True, f"{where}: {origin} has no records: the declared columns were not compared")
        return
    _, rejected = RecordTyper(entity.columns, extra_column).records_to_batch(records, numbered("record", 0))
    reasons: dict[str, int] = {}
    for bad in rejected:
        reasons[bad.reason] = reasons.get(bad.reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        yield CheckLine(
            False, f"{where}: {count} of {len(records)} record(s) in {origin} would be quarantined: {reason}"
        )
    declared = frozenset(c.name for c in entity.columns)
    present = {name for record in records if isinstance(record, dict) for name in split_record(record, declared)[0]}
    absent = sorted(c.name for c in entity.columns if c.nullable and c.name not in present)
    if absent:
        yield CheckLine(
            True,
            f"{where}: nullable field(s) {', '.join(absent)} in none of the {len(records)} record(s) in {origin} "
            "(sparse, or gone from the source?)",
        )
    if not rejected:
        yield CheckLine(True, f"{where}: the {len(declared)} declared column(s) fit the {len(records)} record(s)")


# -- SFTP --------------------------------------------------------------------------------------------------------


def _sftp_checks(plan: DagPlan) -> Iterator[CheckLine]:
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    name, conn_id = plan.config.name, plan.config.conn_id
    try:
        with SFTPHook(ssh_conn_id=conn_id).get_managed_conn() as client:
            yield CheckLine(True, f"{name}: connected through {conn_id}")
            for entity in plan.entities:
                yield from _sftp_entity(client, entity)
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{name}: connect through {conn_id}: {said(exc, name)}")


def _sftp_entity(client: Any, plan: EntityPlan) -> Iterator[CheckLine]:
    from ingestion.extract.sftp_files import list_files

    entity = plan.entity
    where = f"{plan.source}.{entity.name}"
    locator = entity.locator
    assert locator.kind == "sftp"
    try:
        files, _ = list_files(client, locator.remote_path, locator.file_pattern)
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{where}: list {locator.remote_path}: {said(exc, where)}")
        return
    if not files:
        yield CheckLine(True, f"{where}: {locator.remote_path} is readable; no file matches {locator.file_pattern} yet")
        return
    newest = files[-1]
    declared = [c.name for c in entity.columns]
    try:
        if locator.file_format == "jsonl":
            records = _first_records(client, newest.path, newest.name, plan)
            yield from _record_checks(where, records, plan, f"the first {len(records)} line(s) of {newest.name}")
            return
        names = _header(client, newest.path, newest.name, plan)
    except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
        yield CheckLine(False, f"{where}: read the start of {newest.name}: {said(exc, where)}")
        return
    if names is None:  # a CSV without a header line: its cells are taken in config order
        yield CheckLine(True, f"{where}: {newest.name} is readable (no header line: columns in config order)")
        return
    missing = [n for n in declared if n not in names]
    for name in missing:
        yield CheckLine(False, f"{where}: column {name} is declared but not in the header of {newest.name}")
    if not missing:
        extra = len([n for n in names if n not in declared])
        more = f"; {extra} more not declared (not landed)" if extra else ""
        yield CheckLine(True, f"{where}: the {len(declared)} declared column(s) are in {newest.name}{more}")


def _open_remote(client: Any, path: str, name: str, plan: EntityPlan) -> Any:
    import gzip

    from ingestion.extract.file_readers import is_gzipped

    locator = plan.entity.locator
    assert locator.kind == "sftp"
    remote = client.open(path, "rb")
    return gzip.GzipFile(fileobj=remote) if is_gzipped(locator, name) else remote


def _header(client: Any, path: str, name: str, plan: EntityPlan) -> list[str] | None:
    """The column names a CSV's header line or a Parquet file's schema gives; None for a CSV whose locator says it
    has no header. Reads the first line (the footer, Parquet) only."""
    import csv

    locator = plan.entity.locator
    assert locator.kind == "sftp"
    if locator.file_format == "csv" and not locator.csv.header:
        return None
    with _open_remote(client, path, name, plan) as stream:
        if locator.file_format == "parquet":
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(stream).schema_arrow.names)
        line = stream.readline(min(locator.max_record_bytes, FIRST_BYTES))
    text = line.decode(locator.csv.encoding).lstrip("\ufeff")
    return next(csv.reader([text], delimiter=locator.csv.delimiter, quotechar=locator.csv.quote_char), [])


def _first_records(client: Any, path: str, name: str, plan: EntityPlan) -> list[Any]:
    """Up to SAMPLE_RECORDS of a JSON Lines file's first lines, parsed (at most FIRST_BYTES read)."""
    import json

    records: list[Any] = []
    read = 0
    with _open_remote(client, path, name, plan) as stream:
        while len(records) < SAMPLE_RECORDS and read < FIRST_BYTES:
            line = stream.readline(FIRST_BYTES - read)
            if not line:
                break
            read += len(line)
            if line.strip() and line.endswith(b"\n"):
                records.append(json.loads(line))
    return records


# -- landing and Kafka -------------------------------------------------------------------------------------------


def _landing_checks(plan: DagPlan) -> Iterator[CheckLine]:
    from ingestion.land.lake import Lake

    containers = sorted(
        {(e.landing.conn_id, c) for e in plan.entities for c in (e.landing.container, e.landing.sensitive_container)}
    )
    for conn_id, container in containers:
        probe = f"{PROBE_PREFIX}{plan.config.name}-{uuid.uuid4().hex}"
        what = f"landing container {container} through {conn_id}"
        try:
            lake = Lake.from_conn_id(conn_id, container)
            lake.ensure_container()  # as the first landing would
            lake.put(probe, b"ingest test-connection probe\n")
            lake.delete([probe])
        except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
            yield CheckLine(False, f"{what}: write and delete {PROBE_PREFIX}...: {said(exc, container)}")
            continue
        yield CheckLine(True, f"{what}: a probe blob under {PROBE_PREFIX} was written and deleted")


def probe_transactional_id(source: str, entity: str) -> str:
    """Not the publisher's `ingest.<source>.<entity>`: init_transactions would fence a publish in flight."""
    return f"ingest-probe.{source}.{entity}"


def _topic_checks(plan: DagPlan) -> Iterator[CheckLine]:
    for entity in plan.entities:
        what = f"{entity.source}.{entity.entity.name}: topic {entity.topic} through {entity.kafka.conn_id}"
        try:
            _probe_topic(entity)
        except Exception as exc:  # noqa: BLE001 - whatever fails is one FAIL line (said safely); the rest go on
            yield CheckLine(False, f"{what}: {said(exc, entity.topic)}")
            continue
        yield CheckLine(True, f"{what}: a probe message was sent in a transaction and aborted")


def _probe_topic(plan: EntityPlan) -> None:
    """One message in a transaction that is then aborted; raises what the producer or the broker said."""
    from confluent_kafka import KafkaException

    from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
    from ingestion.publish.kafka_publisher import PublishTarget, ensure_topic

    timeout_ms = int(KAFKA_TIMEOUT_SECONDS * 1000)
    hook = TransactionalKafkaProducerHook(
        transactional_id=probe_transactional_id(plan.source, plan.entity.name),
        kafka_config_id=plan.kafka.conn_id,
        producer_config={"message.timeout.ms": timeout_ms},
        transaction_timeout_ms=2 * timeout_ms,
    )
    target = PublishTarget(
        topic=plan.topic,
        partitions=plan.kafka.partitions,
        replication_factor=plan.kafka.replication_factor,
        key_columns=(),
        value_columns=(),
        headers=(),
        run_key="",
        expected_rows=0,
        timeout_seconds=KAFKA_TIMEOUT_SECONDS,
    )
    ensure_topic(hook.client_config(), target)
    producer = hook.get_producer()
    failures: list[str] = []
    producer.init_transactions(KAFKA_TIMEOUT_SECONDS)
    producer.begin_transaction()
    try:
        producer.produce(
            plan.topic,
            value=b"",
            key=b"ingest-probe",
            headers=[("ingest-probe", b"aborted")],
            on_delivery=lambda error, _message: failures.append(str(error)) if error is not None else None,
        )
        if producer.flush(KAFKA_TIMEOUT_SECONDS) > 0:
            failures.append(f"the probe message was not acknowledged within {KAFKA_TIMEOUT_SECONDS:.0f} s")
    finally:
        producer.abort_transaction(KAFKA_TIMEOUT_SECONDS)
    if failures:
        raise KafkaException(failures[0])


def run(config_dir: str, env: str | None, source: str) -> int:
    """The command: every check's line on standard output; 1 when any failed, 2 when the source has no valid config."""
    import sys
    from pathlib import Path

    from ingestion.config.loader import load_configs
    from ingestion.onboarding.console import own_stdout, quiet_libraries
    from ingestion.planner import plan_source

    result = load_configs(Path(config_dir), env, only=source)
    config = result.configs.get(source)
    if config is None:
        for error in result.errors:
            print(f"  {error}", file=sys.stderr)
        print(f"ingest test-connection: no valid config for source {source!r} in {config_dir}", file=sys.stderr)
        return 2
    quiet_libraries()
    failed = 0
    with own_stdout() as out:
        for line in check_source(plan_source(config, result.env)):
            print(line, file=out)
            failed += not line.ok
        print(f"{source}: {failed} check(s) failed" if failed else f"{source}: every check passed", file=out)
    return 1 if failed else 0
