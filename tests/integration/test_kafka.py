"""Kafka through the provider's producer hook: produce and read back; aborted transactions stay invisible."""

from __future__ import annotations

import json
import os
import uuid

from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook


def _bootstrap() -> str:
    return json.loads(os.environ["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]["bootstrap.servers"]


def _new_topic() -> str:
    topic = f"test.stack.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": _bootstrap()})  # keep a reference until the future resolves
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    return topic


def _read_all(topic: str, isolation: str) -> list[tuple[bytes | None, bytes | None]]:
    """Read partition 0 from the beginning to the end offset visible at this isolation level."""
    consumer = Consumer(
        {
            "bootstrap.servers": _bootstrap(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        tp = TopicPartition(topic, 0)
        low, high = consumer.get_watermark_offsets(tp, timeout=30)
        consumer.assign([TopicPartition(topic, 0, low)])
        out: list[tuple[bytes | None, bytes | None]] = []
        # The position moves past transaction markers and aborted records too, so reaching the high watermark
        # means everything visible at this isolation level has been read. Bounded by a poll budget.
        for _ in range(60):
            if consumer.position([tp])[0].offset >= high:
                break
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise AssertionError(msg.error())
            out.append((msg.key(), msg.value()))
        else:
            raise AssertionError(f"did not reach offset {high} of {topic} in 30 s")
        return out
    finally:
        consumer.close()


def test_producer_hook_messages_are_read_back() -> None:
    topic = _new_topic()
    producer = KafkaProducerHook(kafka_config_id="kafka_default").get_producer()
    sent = [(f"k{i}".encode(), f"value-{i}-ü".encode()) for i in range(5)]
    for key, value in sent:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0
    assert _read_all(topic, "read_committed") == sent


def test_aborted_transaction_is_invisible_to_read_committed() -> None:
    topic = _new_topic()
    hook = TransactionalKafkaProducerHook(kafka_config_id="kafka_default", transactional_id=f"test.{topic}")
    producer = hook.get_producer()
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, key=b"aborted", value=f"aborted-{i}".encode())
    producer.flush(30)
    producer.abort_transaction(30)

    producer.begin_transaction()
    for i in range(2):
        producer.produce(topic, key=b"committed", value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    committed = _read_all(topic, "read_committed")
    assert committed == [(b"committed", b"committed-0"), (b"committed", b"committed-1")]
    # The aborted records really reached the log: a read_uncommitted consumer sees them.
    uncommitted_values = [v for _, v in _read_all(topic, "read_uncommitted")]
    assert b"aborted-0" in uncommitted_values
    assert len(uncommitted_values) == 5
