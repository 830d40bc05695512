"""A run published by several tasks side by side (PublishSplit): each task publishes its own share of the rows (the
files one extract partition landed), with its own transactional id and publish log, into partitions the tasks share;
together every row is in the topic exactly once for read_committed consumers, in the partition librdkafka's default
partitioner puts its key in, and a share published before is not again."""

from __future__ import annotations

import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pyarrow as pa
import pytest

from ingestion.publish.errors import PublishCountMismatchError
from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook
from ingestion.publish.kafka_publisher import PublishResult, PublishSplit, PublishTarget, publish, publish_group
from tests.integration.publish.test_kafka_publisher import ROWS, _batches, _hook, _target
from tests.integration.support import read_committed_placed

GROUPS = 4
PARTITIONS = 3  # fewer than the tasks: every task writes to every partition


def _share(group: int) -> Iterator[pa.RecordBatch]:
    """Group `group`'s share of the rows, as one extract partition would land it: the ids modulo GROUPS."""
    for batch in _batches():
        yield batch.filter(pa.array([i % GROUPS == group for i in batch.column("id").to_pylist()]))


def _share_rows(group: int) -> int:
    return sum(batch.num_rows for batch in _share(group))


def _group_target(topic: str, run_key: str, group: int) -> PublishTarget:
    return replace(
        _target(topic, run_key),
        partitions=PARTITIONS,
        expected_rows=_share_rows(group),
        log_group=publish_group("t", "e", f"g{group}"),
        split=PublishSplit(groups=GROUPS, group=group),
    )


def _group_hook(topic: str, group: int) -> TransactionalKafkaProducerHook:
    return TransactionalKafkaProducerHook(kafka_config_id="kafka_default", transactional_id=f"test.{topic}.g{group}")


def _publish_groups(topic: str, run_key: str) -> list[PublishResult]:
    with ThreadPoolExecutor(GROUPS) as pool:
        futures = [
            pool.submit(publish, _group_hook(topic, g), _group_target(topic, run_key, g), lambda g=g: _share(g))
            for g in range(GROUPS)
        ]
        return [f.result() for f in futures]


def test_groups_side_by_side_publish_each_row_once_in_its_keys_partition() -> None:
    topic = f"test.split.{uuid.uuid4().hex[:10]}"
    results = _publish_groups(topic, "run-1")

    assert [r.rows for r in results] == [_share_rows(g) for g in range(GROUPS)]
    assert sum(r.rows for r in results) == ROWS
    messages = read_committed_placed(topic)
    assert Counter(key for key, _, _, _ in messages) == Counter(str(i).encode() for i in range(ROWS))
    assert all(partition == zlib.crc32(key) % PARTITIONS for key, _, _, partition in messages if key is not None)

    # The same rows published whole go to the same partitions: per-key order holds whether or not a run is split.
    whole = f"test.split.{uuid.uuid4().hex[:10]}"
    publish(_hook(whole), replace(_target(whole, "run-1"), partitions=PARTITIONS), _batches)
    placed = {key: partition for key, _, _, partition in messages}
    assert {key: partition for key, _, _, partition in read_committed_placed(whole)} == placed


def test_a_group_published_before_is_not_published_again() -> None:
    topic = f"test.split.{uuid.uuid4().hex[:10]}"
    first = _publish_groups(topic, "run-1")

    called = []
    again = publish(_group_hook(topic, 1), _group_target(topic, "run-1", 1), lambda: called.append(1) or _share(1))
    assert (again.already_published, again.rows, called) == (True, first[1].rows, [])
    assert len(read_committed_placed(topic)) == ROWS


def test_a_group_that_reads_less_than_its_share_is_aborted_and_the_others_stand() -> None:
    """A share's rows are known before it is read (the files its partition landed): a task that produced fewer
    commits nothing, while the other tasks' shares, in the same partitions, stay committed."""
    topic = f"test.split.{uuid.uuid4().hex[:10]}"
    for group in (0, 2, 3):
        publish(_group_hook(topic, group), _group_target(topic, "run-1", group), lambda group=group: _share(group))

    def short_share() -> Iterator[pa.RecordBatch]:
        yield from list(_share(1))[:-1]

    with pytest.raises(PublishCountMismatchError, match=r"landed 625 rows of partition 1's share \(of 4\), produced"):
        publish(_group_hook(topic, 1), _group_target(topic, "run-1", 1), short_share)

    published = Counter(int(key) % GROUPS for key, _, _, _ in read_committed_placed(topic))
    assert published == {0: _share_rows(0), 2: _share_rows(2), 3: _share_rows(3)}
    # Its retry publishes the share whole.
    assert publish(_group_hook(topic, 1), _group_target(topic, "run-1", 1), lambda: _share(1)).rows == _share_rows(1)
    assert len(read_committed_placed(topic)) == ROWS
