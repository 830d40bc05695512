"""A run published by several tasks side by side (PublishSplit): each task owns its topic partitions, with its own
transactional id and publish log; together every row is in the topic exactly once for read_committed consumers, in
the partition librdkafka's default partitioner puts its key in, and a group published before is not again."""

from __future__ import annotations

import uuid
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from ingestion.publish.errors import TopicPartitionCountError
from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
from ingestion.publish.kafka_publisher import PublishResult, PublishSplit, PublishTarget, publish, publish_group
from tests.integration.publish.test_kafka_publisher import ROWS, _batches, _hook, _target
from tests.integration.support import read_committed_placed

GROUPS = 3
PARTITIONS = 4  # group 0 owns partitions 0 and 3, groups 1 and 2 one each


def _group_target(topic: str, run_key: str, group: int, partitions: int = PARTITIONS) -> PublishTarget:
    return replace(
        _target(topic, run_key),
        partitions=partitions,
        log_group=publish_group("t", "e", f"g{group}"),
        split=PublishSplit(groups=GROUPS, group=group, partitions=partitions),
    )


def _group_hook(topic: str, group: int) -> TransactionalKafkaProducerHook:
    return TransactionalKafkaProducerHook(kafka_config_id="kafka_default", transactional_id=f"test.{topic}.g{group}")


def _publish_groups(topic: str, run_key: str) -> list[PublishResult]:
    with ThreadPoolExecutor(GROUPS) as pool:
        futures = [
            pool.submit(publish, _group_hook(topic, g), _group_target(topic, run_key, g), _batches)
            for g in range(GROUPS)
        ]
        return [f.result() for f in futures]


def test_groups_side_by_side_publish_each_row_once_in_its_keys_partition() -> None:
    topic = f"test.split.{uuid.uuid4().hex[:10]}"
    results = _publish_groups(topic, "run-1")

    assert sum(r.rows for r in results) == ROWS
    assert [sorted(r.offsets) for r in results] == [[0, 3], [1], [2]]  # each counted only its own partitions
    messages = read_committed_placed(topic)
    assert Counter(key for key, _, _, _ in messages) == Counter(str(i).encode() for i in range(ROWS))
    assert all(partition == zlib.crc32(key) % PARTITIONS for key, _, _, partition in messages if key is not None)

    # The same rows published whole (librdkafka's partitioner placing them) go to the same partitions.
    whole = f"test.split.{uuid.uuid4().hex[:10]}"
    publish(_hook(whole), replace(_target(whole, "run-1"), partitions=PARTITIONS), _batches)
    placed = {key: partition for key, _, _, partition in messages}
    assert {key: partition for key, _, _, partition in read_committed_placed(whole)} == placed


def test_a_group_published_before_is_not_published_again() -> None:
    topic = f"test.split.{uuid.uuid4().hex[:10]}"
    first = _publish_groups(topic, "run-1")

    called = []
    again = publish(_group_hook(topic, 1), _group_target(topic, "run-1", 1), lambda: called.append(1) or _batches())
    assert (again.already_published, again.rows, called) == (True, first[1].rows, [])
    assert len(read_committed_placed(topic)) == ROWS


def test_a_topic_with_another_partition_count_than_rows_are_placed_by_is_refused() -> None:
    topic = f"test.split.{uuid.uuid4().hex[:10]}"
    publish(_hook(topic), _target(topic, "run-0", rows=10), lambda: _batches(10))  # created with 3 partitions

    with pytest.raises(TopicPartitionCountError, match=r"has 3 partition\(s\), but the run's rows are placed by 4"):
        publish(_group_hook(topic, 0), _group_target(topic, "run-1", 0), _batches)
