"""The transactional publisher on the stack's Kafka broker: exactly one committed message per row for
read_committed consumers, no republish of a published run, an aborted attempt stays invisible, including when the
broker goes away in the middle of a publish."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.publish.errors import PublishCountMismatchError, PublishError
from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
from ingestion.publish.kafka_publisher import PublishTarget, publish
from tests.integration.support import read_committed, stack

ROWS = 2_500
BATCH = 500


def _batches(rows: int = ROWS) -> Iterator[pa.RecordBatch]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for offset in range(0, rows, BATCH):
        ids = range(offset, min(offset + BATCH, rows))
        yield pa.RecordBatch.from_pydict(
            {
                "id": pa.array(list(ids), pa.int64()),
                "name": pa.array([f'Zoë "{i}"' if i % 7 else None for i in ids], pa.string()),
                "amount": pa.array([Decimal(i) / 100 for i in ids], pa.decimal128(12, 2)),
                "updated_at": pa.array([start + timedelta(seconds=i) for i in ids], pa.timestamp("us", tz="UTC")),
            }
        )


def _target(topic: str, run_key: str, rows: int = ROWS, timeout: float = 60.0) -> PublishTarget:
    return PublishTarget(
        topic=topic,
        partitions=3,
        replication_factor=1,
        key_columns=("id",),
        value_columns=("id", "name", "amount", "updated_at"),
        headers=(
            ("ingest_run_id", run_key),
            ("ingest_source", "t"),
            ("ingest_entity", "e"),
            ("ingest_schema_fingerprint", "f00"),
        ),
        run_key=run_key,
        expected_rows=rows,
        timeout_seconds=timeout,
    )


def _hook(topic: str, **producer_config: object) -> TransactionalKafkaProducerHook:
    return TransactionalKafkaProducerHook(
        kafka_config_id="kafka_default", transactional_id=f"test.{topic}", producer_config=dict(producer_config)
    )


def test_one_committed_message_per_row_with_key_headers_and_lossless_json() -> None:
    topic = f"test.pub.{uuid.uuid4().hex[:10]}"
    result = publish(_hook(topic), _target(topic, "run-1"), _batches)
    assert not result.already_published
    assert result.rows == ROWS
    assert sum(after - before for before, after in result.offsets.values()) == ROWS

    messages = read_committed(topic)
    assert len(messages) == ROWS
    by_key = {key: (json.loads(value), headers) for key, value, headers in messages}
    assert sorted(by_key) == sorted(str(i).encode() for i in range(ROWS))
    value, headers = by_key[b"8"]
    assert value == {"id": 8, "name": 'Zoë "8"', "amount": "0.08", "updated_at": "2026-11-01T00:00:08.000000Z"}
    assert by_key[b"7"][0]["name"] is None
    assert headers == {
        "ingest_run_id": b"run-1",
        "ingest_source": b"t",
        "ingest_entity": b"e",
        "ingest_schema_fingerprint": b"f00",
    }


def test_a_published_run_is_not_published_again_but_the_next_run_is() -> None:
    topic = f"test.pub.{uuid.uuid4().hex[:10]}"
    publish(_hook(topic), _target(topic, "run-1"), _batches)

    called = []
    again = publish(_hook(topic), _target(topic, "run-1"), lambda: called.append(1) or _batches())
    assert again.already_published
    assert again.rows == ROWS
    assert called == []  # the landed files are not even read
    assert len(read_committed(topic)) == ROWS

    publish(_hook(topic), _target(topic, "run-2", rows=10), lambda: _batches(10))
    assert len(read_committed(topic)) == ROWS + 10


def test_a_count_mismatch_aborts_and_nothing_is_visible() -> None:
    topic = f"test.pub.{uuid.uuid4().hex[:10]}"
    with pytest.raises(PublishCountMismatchError, match=f"landed {ROWS + 1} rows, produced {ROWS}"):
        publish(_hook(topic), _target(topic, "run-1", rows=ROWS + 1), _batches)
    assert read_committed(topic) == []
    # Not in the publish log either: the corrected retry publishes.
    assert publish(_hook(topic), _target(topic, "run-1"), _batches).rows == ROWS
    assert len(read_committed(topic)) == ROWS


def test_broker_stopped_mid_publish_fails_the_attempt_and_the_retry_is_exact() -> None:
    topic = f"test.pub.{uuid.uuid4().hex[:10]}"
    publish(_hook(topic), _target(topic, "run-0", rows=10), lambda: _batches(10))  # topic and offsets exist

    def stop_kafka_after_first_batch(produced: int) -> None:
        if produced == BATCH:
            stack("stop", "kafka")

    try:
        with pytest.raises(PublishError):
            publish(
                _hook(topic, **{"transaction.timeout.ms": 20_000, "message.timeout.ms": 15_000}),
                _target(topic, "run-1", timeout=15),
                _batches,
                on_batch=stop_kafka_after_first_batch,
            )
    finally:
        stack("start", "kafka")

    assert len(read_committed(topic)) == 10  # nothing of the failed attempt
    retry = publish(_hook(topic), _target(topic, "run-1"), _batches)
    assert not retry.already_published
    assert retry.rows == ROWS
    messages = read_committed(topic)
    assert len(messages) == 10 + ROWS
    run_1 = [key for key, _, headers in messages if headers["ingest_run_id"] == b"run-1"]
    assert sorted(run_1) == sorted(str(i).encode() for i in range(ROWS))  # each row once


def test_a_row_too_large_for_one_message_fails_terminally_naming_its_position_and_nothing_is_visible() -> None:
    from ingestion.errors import TerminalError
    from ingestion.publish.errors import MessageTooLargeError

    topic = f"test.pub.{uuid.uuid4().hex[:10]}"
    secret_text = "ca@nary.example " * 80_000  # about 1.3 MB: over the producer's default message.max.bytes

    def batches() -> Iterator[pa.RecordBatch]:
        yield from _batches(BATCH)
        yield pa.RecordBatch.from_pydict(
            {
                "id": pa.array([BATCH, BATCH + 1], pa.int64()),
                "name": pa.array(["fits", secret_text], pa.string()),
                "amount": pa.array([Decimal(1), Decimal(2)], pa.decimal128(12, 2)),
                "updated_at": pa.array([datetime(2026, 11, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
            }
        )

    with pytest.raises(MessageTooLargeError) as raised:
        publish(_hook(topic), _target(topic, "run-1", rows=BATCH + 2), batches)
    assert isinstance(raised.value, TerminalError)  # Airflow's retries would send the same row again
    message = str(raised.value)
    assert message.startswith(f"{topic}: row {BATCH + 2} in landing order encodes to a ")
    assert "ca@nary" not in message
    assert read_committed(topic) == []  # the rows before it were in the aborted transaction
