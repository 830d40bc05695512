"""The publish transaction's timeout on the stack's broker: the one the entity's publish_timeout_seconds asks for
reaches the broker (librdkafka's default of 60 s fenced long publishes), and the longest a config may ask for is
exactly what the broker's transaction.max.timeout.ms allows.

The broker's own record of a transactional id is read back from its transaction log (`__transaction_state`), so what
is checked is what the broker will enforce, not what the client was given."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from sqlalchemy import text

from ingestion.config.models import Kafka
from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
from tests.integration.support import (
    ORDERS_COLUMNS,
    ORDERS_TABLE_SQL,
    bootstrap_servers,
    crm_table,
    run_stages,
    sql_source_config,
    write_configs,
)

TRANSACTION_LOG = "__transaction_state"


def _transaction_timeouts_on_broker(transactional_id: str) -> list[int]:
    """TransactionTimeoutMs of every record the broker's transaction log holds for this transactional id."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers(), "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    timeouts: list[int] = []
    try:
        partitions = consumer.list_topics(TRANSACTION_LOG, timeout=30).topics[TRANSACTION_LOG].partitions
        for partition in partitions:
            tp = TopicPartition(TRANSACTION_LOG, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=30)
            if high <= low:
                continue
            consumer.assign([TopicPartition(TRANSACTION_LOG, partition, low)])
            # A budget of polls that bring nothing, not of records: a stack that has run many transactions holds
            # more records than any fixed count (600 records were too few after a benchmark's runs).
            idle = 0
            while consumer.position([tp])[0].offset < high:
                if idle >= 60:
                    raise AssertionError(f"did not reach offset {high} of {TRANSACTION_LOG}[{partition}]")
                msgs = [m for m in consumer.consume(num_messages=500, timeout=0.5) if not m.error()]
                idle = 0 if msgs else idle + 1
                for msg in msgs:
                    key, value = msg.key() or b"", msg.value()
                    if value is None:  # a tombstone: the id expired
                        continue
                    # Key: version int16, transactional id as int16 length + UTF-8. Value: version int16, producer
                    # id int64, producer epoch int16, transaction timeout int32, then fields this test does not need.
                    (length,) = struct.unpack_from(">h", key, 2)
                    if key[4 : 4 + length].decode() == transactional_id:
                        timeouts.append(struct.unpack_from(">i", value, 12)[0])
    finally:
        consumer.close()
    return timeouts


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}"
    with crm_table(f"{name}_orders", ORDERS_TABLE_SQL) as writer:
        with writer.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {name}_orders SELECT g, 'c' || g, g * 1.25, true, "
                    "timestamptz '2026-11-01 00:00+00' + g * interval '1 minute' FROM generate_series(1, 20) g"
                )
            )
        entity = {
            "name": "orders",
            "locator": {"kind": "sql", "schema": "public", "table": f"{name}_orders"},
            "primary_key": ["order_id"],
            "columns": ORDERS_COLUMNS,
            "load": {"mode": "full"},
        }
        config = sql_source_config(name, [entity], retries={"count": 0}, kafka={"publish_timeout_seconds": 123})
        monkeypatch.setenv("INGEST_CONFIG_DIR", str(write_configs(tmp_path / "configs", config)))
        yield name


def test_the_publish_stage_opens_its_transaction_with_the_entitys_publish_timeout(source: str) -> None:
    results = run_stages(source, "orders", "scheduled__2026-11-02", datetime(2026, 11, 2, tzinfo=UTC))
    assert results["publish"]["rows_published"] == 20

    timeouts = _transaction_timeouts_on_broker(f"ingest.{source}.orders")
    # 123 s of publish and a minute for the abort or commit after its deadline; librdkafka's default was 60 000.
    assert timeouts
    assert set(timeouts) == {183_000}


def test_the_broker_accepts_the_longest_publish_timeout_a_config_may_ask_for_and_not_a_millisecond_more() -> None:
    longest = Kafka(publish_timeout_seconds=840).transaction_timeout_ms
    transactional_id = f"test.timeout.{uuid.uuid4().hex[:10]}"
    hook = TransactionalKafkaProducerHook(transactional_id=transactional_id, transaction_timeout_ms=longest)
    hook.get_producer().init_transactions(30)
    assert _transaction_timeouts_on_broker(transactional_id) == [900_000]

    too_long = TransactionalKafkaProducerHook(
        transactional_id=f"{transactional_id}.x", transaction_timeout_ms=longest + 1, producer_config={"log_level": 0}
    )
    with pytest.raises(KafkaException) as refused:
        too_long.get_producer().init_transactions(30)
    error = refused.value.args[0]
    assert error.code() == KafkaError.INVALID_TRANSACTION_TIMEOUT
    assert error.fatal()  # retrying the same producer cannot help


def test_a_publish_whose_transaction_timeout_the_broker_refuses_fails_at_once_saying_why() -> None:
    import pyarrow as pa

    from ingestion.errors import TerminalError
    from ingestion.publish.errors import TransactionTimeoutRefusedError
    from ingestion.publish.kafka_publisher import PublishTarget, publish

    topic = f"test.timeout.{uuid.uuid4().hex[:10]}"
    hook = TransactionalKafkaProducerHook(
        transactional_id=f"test.{topic}",
        transaction_timeout_ms=Kafka(publish_timeout_seconds=840).transaction_timeout_ms + 1,
        producer_config={"log_level": 0},
    )
    target = PublishTarget(
        topic=topic,
        partitions=1,
        replication_factor=1,
        key_columns=(),
        value_columns=("id",),
        headers=(),
        run_key="r1",
        expected_rows=1,
    )
    batch = pa.RecordBatch.from_pydict({"id": pa.array([1], pa.int64())})
    with pytest.raises(TransactionTimeoutRefusedError, match=r"transaction\.max\.timeout\.ms") as refused:
        publish(hook, target, lambda: [batch])
    assert isinstance(refused.value, TerminalError)  # the task fails at once instead of retrying in vain
