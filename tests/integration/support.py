"""Helpers shared by integration tests: reading a topic as a read_committed consumer, driving the stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

REPO = Path(__file__).resolve().parents[2]


def bootstrap_servers() -> str:
    return json.loads(os.environ["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]["bootstrap.servers"]


def stack(*args: str) -> None:
    """`python -m stack ...`, e.g. stack("stop", "kafka")."""
    subprocess.run([sys.executable, "-m", "stack", *args], cwd=REPO, check=True, timeout=120)


def read_committed(topic: str) -> list[tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    """Every message of every partition visible to read_committed, up to the last stable offset."""
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
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out = []
        deadline = time.monotonic() + 60
        while True:
            # The position moves past transaction markers and aborted records too, so reaching each partition's
            # end offset means everything visible at read_committed has been read.
            positions = consumer.position([TopicPartition(topic, p) for p in partitions])
            if all(ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in positions):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"did not reach the end offsets {ends} of {topic} in 60 s")
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error():
                    raise AssertionError(msg.error())
                out.append((msg.key(), msg.value(), dict(msg.headers() or [])))
        return out
    finally:
        consumer.close()
