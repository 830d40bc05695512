"""`ingest inspect <source> <entity> [--run RUN_ID]`: what one committed run left behind, for a person checking a
run by hand: the files it landed (path, rows, bytes, from its manifest), a few rows of the first file as landed, and
the entity's topic offsets (low and high watermark per partition).

Reads the control database (the run record and its manifest's path), the lake through the Azure provider's hook and
the topic through the Kafka provider's consumer hook; it writes nothing and joins no consumer group. Landed files are
already masked, but a column the config declares PII is never printed at all: it shows as `<pii:strategy>`, so a file
landed before a column was masked, or by a strategy that keeps the value readable, cannot leak through this command.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.apache.kafka.hooks.consume import KafkaConsumerHook

if TYPE_CHECKING:
    from confluent_kafka import Consumer

    from ingestion.land.lake import Lake
    from ingestion.land.parquet_lander import LandingManifest
    from ingestion.planner import EntityPlan
    from ingestion.state.store import CommittedRunRecord, ControlStore

SAMPLE_ROWS = 5
MAX_CELL_CHARS = 60
KAFKA_TIMEOUT_SECONDS = 30.0
_PART = re.compile(r"\d{4}\.[a-z]+$")


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    low: int
    high: int


class OffsetsConsumerHook(KafkaConsumerHook):
    """The provider's consumer hook, with a throwaway group id (a connection's extra usually has none, and a consumer
    needs one). Offsets are only read: nothing is subscribed or committed, so the group never exists on the broker."""

    def _get_client(self, config: dict[str, Any]) -> Consumer:
        return super()._get_client(
            {**config, "group.id": f"ingest-inspect-{uuid.uuid4().hex}", "enable.auto.commit": False}
        )


def find_run(store: ControlStore, source: str, entity: str, run_id: str | None) -> CommittedRunRecord | None:
    """The committed run `run_id`, or the entity's latest committed run."""
    if run_id:
        return store.committed_run(source, entity, run_id)
    latest = store.runs(source, entity, limit=1)
    return latest[0] if latest else None


def manifest_location(store: ControlStore, plan: EntityPlan, run: CommittedRunRecord) -> tuple[str, str] | None:
    """(container, path) of the run's manifest: as its publish recorded it, else next to its first part."""
    record = store.publish_record(run.source, run.entity, run.run_id)
    if record is not None and "/" in record.manifest:
        container, path = record.manifest.split("/", 1)
        return container, path
    if run.files and _PART.search(run.files[0]):
        return plan.landing.container, _PART.sub("manifest.json", run.files[0])
    return None


def sample_rows(lake: Lake, path: str, plan: EntityPlan, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """The first `limit` rows of a landed Parquet file (numbers and booleans as they are, anything else as text),
    declared PII columns replaced by `<pii:strategy>`."""
    import pyarrow.parquet as pq

    from ingestion.land.blob_reader import BlobRangeReader

    if limit <= 0:
        return []
    hidden = {c.name: f"<pii:{c.pii_strategy or 'declared'}>" for c in plan.entity.columns if c.pii}
    parquet = pq.ParquetFile(BlobRangeReader(lake.blob(path)))
    batch = next(parquet.iter_batches(batch_size=limit), None)
    rows = [] if batch is None else batch.to_pylist()[:limit]
    return [{name: hidden.get(name) or _cell(value) for name, value in row.items()} for row in rows]


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)  # decimals, timestamps, dates, bytes
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."


def topic_offsets(conn_id: str, topic: str, timeout: float = KAFKA_TIMEOUT_SECONDS) -> list[PartitionOffsets] | str:
    """Low and high watermark of each partition of `topic`, or why they cannot be read."""
    from confluent_kafka import KafkaException, TopicPartition

    consumer = OffsetsConsumerHook(topics=[topic], kafka_config_id=conn_id).get_conn
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            return f"topic {topic!r}: {metadata.error.str()}"
        offsets = []
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            offsets.append(PartitionOffsets(partition, low, high))
        return offsets
    except KafkaException as exc:
        return f"topic {topic!r}: {exc.args[0].str() if exc.args else type(exc).__name__}"
    finally:
        consumer.close()


def inspect_run(
    store: ControlStore,
    plan: EntityPlan,
    run_id: str | None = None,
    *,
    rows: int = SAMPLE_ROWS,
    echo: Callable[[str], None] = print,
) -> int:
    """Print the run's landed files, sample rows and topic offsets. 0 when all were shown, 1 when a part could not
    be read (said in its place), 2 when there is no such committed run."""
    from azure.core.exceptions import AzureError

    from ingestion.land.lake import Lake

    source, entity = plan.source, plan.entity.name
    run = find_run(store, source, entity, run_id)
    if run is None:
        which = f"run {run_id!r}" if run_id else "committed run"
        echo(f"{source}.{entity}: no {which} in the control DB (`ingest status {source}` lists the latest runs)")
        return 2
    committed = f"{run.committed_at:%Y-%m-%d %H:%M:%S} UTC"
    echo(f"run        {run.run_id}  (dag {run.dag_id}, try {run.try_number}, committed {committed})")
    echo(f"window     {run.window_start or '-'} -> {run.window_end or '-'}  ({run.load_mode})")
    echo(f"rows       extracted {run.rows_extracted}, landed {run.rows_landed}, published {run.rows_published}")
    failed = False
    location = manifest_location(store, plan, run)
    manifest = None
    if location is None:
        echo("files      none landed (the run found no rows)")
    else:
        container, path = location
        try:
            lake = Lake.from_conn_id(plan.landing.conn_id, container)
            manifest = _manifest(lake, path)
            echo(f"manifest   {container}/{path}")
            for landed in manifest.files:
                echo(f"file       {container}/{landed.path}  {landed.rows} rows  {landed.bytes} bytes")
            echo(f"total      {len(manifest.files)} file(s), {manifest.rows} rows, {manifest.bytes} bytes")
            first = next((f for f in manifest.files if f.path.endswith(".parquet") and f.rows), None)
            if first is not None:
                sample = sample_rows(lake, first.path, plan, rows)
                echo(f"sample     first {len(sample)} row(s) of {first.path} (PII columns not shown)")
                for row in sample:
                    echo(f"  {json.dumps(row)}")
        except AzureError as exc:  # a blob removed by retention, or the lake unreachable
            echo(f"files      cannot read the landing zone ({type(exc).__name__}): {str(exc).splitlines()[0][:200]}")
            failed = True
    offsets = topic_offsets(plan.kafka.conn_id, plan.topic)
    if isinstance(offsets, str):
        echo(f"topic      {plan.topic}: offsets unavailable: {offsets}")
        return 1
    echo(f"topic      {plan.topic}  ({len(offsets)} partition(s); offsets count transaction markers too)")
    for o in offsets:
        echo(f"  partition {o.partition}: low {o.low}  high {o.high}")
    return 1 if failed else 0


def _manifest(lake: Lake, path: str) -> LandingManifest:
    from ingestion.land.parquet_lander import LandingManifest

    return LandingManifest.from_json(lake.get(path).decode())
