"""Publish one run's landed rows to Kafka in one transaction, exactly once for read_committed consumers.

How each guarantee is kept:
- Nothing of a failed attempt is visible: every message goes in one transaction, aborted on any error. If the
  process dies instead, the broker aborts the open transaction when the next attempt's `init_transactions` (same
  stable transactional id) fences it, or when the transaction times out.
- Delivered == landed: after `flush`, the topic's log-end offsets are read back from the broker and their growth
  must equal the run's landed rows, otherwise the transaction is aborted. This counts what the broker holds,
  without a Python callback per message (which cost ~40% of the throughput).
- No republish after a committed publish: inside the same transaction the publisher commits an offset for a
  consumer group of its own, one per source and entity (`ingest-publish.<source>.<entity>`), whose metadata lists
  the runs published lately with their counts and the landing each published. Transactional offset commits become
  visible exactly when the messages do, so "this run is in the publish log" and "its messages are committed" are
  one fact. A retry or re-run finds its run there and publishes nothing; a different landing of a run found there
  is refused. The log is per entity, not per topic, so entities that share run ids never skip each other's runs.
  Older runs are also known to the control database, which the stage checks first.
- One writer per topic: delivered is counted from the topic's end offsets, so another producer writing the topic
  during a publish makes the counts disagree and the attempt aborts (the config refuses topics shared by two
  entities). The tasks of a split publish (below) are the exception, and count otherwise.

A run may also be published by several tasks side by side (PublishSplit, for entities read in partitions): task g of
G publishes the rows partition g of the run's extract landed, in a transaction of its own, with a transactional id and
a publish log of its own. Each reads only its own parts, so two tasks do no more work than one. The producer's own
partitioner places every message (CRC-32 of the key modulo the topic's partition count, librdkafka's default), as in
a run published whole, so a key goes to the same partition however many tasks publish and per-key order holds from
run to run: a row's share follows from its primary key, so one key (the primary key by default) is in one share of
a run. The tasks write to the same topic partitions, so the end offsets cannot tell one task's messages from
another's: a task checks that it produced every row of its share, and its transaction commits only if the broker
acknowledged every message produced in it (librdkafka fails the commit otherwise); end offsets that grew by less
than it produced fail it too. A run is whole once every task's transaction committed (commit checks that their
counts add up to the landed rows).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestion.publish.errors import (
    MessageTooLargeError,
    PublishCountMismatchError,
    PublishedOtherLandingError,
    PublishError,
    TransactionTimeoutRefusedError,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from confluent_kafka import Consumer, Producer

    from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook

log = logging.getLogger(__name__)

# Kafka's offset.metadata.max.bytes defaults to 4096; stay well under it.
_PUBLISH_LOG_MAX_BYTES = 3000
_PROGRESS_EVERY = 1_000_000


@dataclass(frozen=True)
class PublishedRun:
    rows: int
    landing_id: str = ""  # "" in entries written before landings had ids


@dataclass
class PublishLog:
    """Runs of one entity published lately, newest last, with their message counts and landings."""

    runs: dict[str, PublishedRun] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, metadata: str | None) -> PublishLog:
        if not metadata:
            return cls()
        try:
            data = json.loads(metadata)
            # v1 entries are a bare count; v2 entries are [count, landing id].
            return cls(
                {
                    str(k): PublishedRun(int(v)) if isinstance(v, int) else PublishedRun(int(v[0]), str(v[1]))
                    for k, v in data.get("runs", {}).items()
                }
            )
        except (ValueError, TypeError, IndexError, AttributeError):
            log.warning("publish log metadata is not readable; treating it as empty: %.80r", metadata)
            return cls()

    def with_run(self, run_key: str, rows: int, landing_id: str = "") -> PublishLog:
        runs = {k: v for k, v in self.runs.items() if k != run_key}
        runs[run_key] = PublishedRun(rows, landing_id)
        log_ = PublishLog(runs)
        while len(log_.to_metadata().encode()) > _PUBLISH_LOG_MAX_BYTES and len(log_.runs) > 1:
            log_.runs.pop(next(iter(log_.runs)))  # forget the oldest; the control DB knows committed runs
        return log_

    def to_metadata(self) -> str:
        runs = {k: [v.rows, v.landing_id] for k, v in self.runs.items()}
        return json.dumps({"v": 2, "runs": runs}, separators=(",", ":"))


@dataclass(frozen=True)
class PublishSplit:
    """One task's share of a run published by `groups` tasks: the rows that partition `group` of the run's extract
    landed (PublishTarget.expected_rows counts them)."""

    groups: int
    group: int


@dataclass(frozen=True)
class PublishTarget:
    topic: str
    partitions: int
    replication_factor: int
    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    run_key: str
    expected_rows: int
    timeout_seconds: float = 300.0
    log_group: str = ""  # consumer group of the entity's publish log; publish_group(topic) when empty
    landing_id: str = ""
    split: PublishSplit | None = None  # this task's share of the run, when several tasks publish it

    @property
    def publish_log_group(self) -> str:
        return self.log_group or publish_group(self.topic)

    def log_partition(self, topic_partitions: int) -> int:
        """The partition whose committed offset carries the publish log: the log is the consumer group's, so any
        partition would do; a split publish's group `g` uses partition g (as it did when each group owned its own
        partitions, so those logs are still found), wrapped round the topic's partitions."""
        return self.split.group % topic_partitions if self.split is not None else 0


@dataclass(frozen=True)
class PublishResult:
    topic: str
    rows: int
    already_published: bool
    offsets: dict[int, tuple[int, int]]  # partition -> (end offset before, after)
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "rows_published": self.rows,
            "already_published": self.already_published,
            "offsets": {str(p): list(v) for p, v in self.offsets.items()},
            "seconds": self.seconds,
        }


def publish_group(*names: str) -> str:
    """The consumer group whose committed offset metadata is a publish log: one per source and entity."""
    return "ingest-publish." + ".".join(names)


def ensure_topic(client_config: dict[str, Any], target: PublishTarget) -> int:
    """Create the topic if it is missing; return its partition count."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(client_config)
    timeout = min(target.timeout_seconds, 30.0)
    topics = admin.list_topics(timeout=timeout).topics
    if target.topic not in topics:
        log.info("creating topic %s (%d partitions)", target.topic, target.partitions)
        future = admin.create_topics(
            [NewTopic(target.topic, target.partitions, target.replication_factor)], request_timeout=timeout
        )[target.topic]
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
        return _created_topic_partitions(admin, target.topic, timeout)
    metadata = topics[target.topic]
    if metadata.error is not None:
        raise PublishError(f"topic {target.topic}: {metadata.error}")
    return len(metadata.partitions)


def _created_topic_partitions(admin: Any, topic: str, timeout: float) -> int:
    """A topic just created may not be in the broker's metadata yet (UNKNOWN_TOPIC_OR_PART for a moment, longer
    right after a broker restart): ask again until it is, within the timeout."""
    from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

    def lookup() -> Any:
        return admin.list_topics(topic=topic, timeout=timeout).topics[topic]

    def last_answer(state: RetryCallState) -> Any:
        assert state.outcome is not None
        return state.outcome.result()

    retrying = Retrying(
        retry=retry_if_result(lambda metadata: metadata.error is not None),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.5),
        retry_error_callback=last_answer,
    )
    metadata = retrying(lookup)
    if metadata.error is not None:
        raise PublishError(f"topic {topic} was created but is still not usable after {timeout:.0f} s: {metadata.error}")
    return len(metadata.partitions)


def _end_offsets(consumer: Consumer, topic: str, partitions: Iterable[int], timeout: float) -> dict[int, int]:
    from confluent_kafka import TopicPartition
    from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

    # A topic created a moment ago, or a partition whose leader is moving, answers NOT_LEADER_FOR_PARTITION or
    # LEADER_NOT_AVAILABLE for a moment (seen on a loaded machine): a read, safe to ask again.
    @retry(
        retry=retry_if_exception(_is_retriable),
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )
    def end_offset(partition: int) -> int:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1])

    return {p: end_offset(p) for p in partitions}


def _is_retriable(exc: BaseException) -> bool:
    from confluent_kafka import KafkaError, KafkaException

    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    error = exc.args[0]
    # librdkafka does not flag these as retriable on an offset fetch, but they only mean "ask again shortly".
    transient = {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    }
    return bool(error.retriable()) or error.code() in transient


def _read_publish_log(consumer: Consumer, topic: str, partition: int, timeout: float) -> PublishLog:
    from confluent_kafka import TopicPartition
    from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

    # Right after a broker (re)start the group coordinator answers NOT_COORDINATOR / "load in progress" for a
    # few seconds; those are retriable, anything else is not.
    @retry(
        retry=retry_if_exception(_is_retriable),
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.2, max=2),
        reraise=True,
    )
    def committed() -> TopicPartition:
        return consumer.committed([TopicPartition(topic, partition)], timeout=timeout)[0]

    return PublishLog.from_metadata(committed().metadata)


def _encoded_messages(
    target: PublishTarget, batches: Iterable[pa.RecordBatch]
) -> Iterator[tuple[pa.Array | None, pa.Array]]:
    """(keys, values) per batch, as Arrow binary arrays: the JSON encoding, vectorised."""
    import pyarrow as pa

    from ingestion.publish.json_encoding import encode_keys, encode_values

    for batch in batches:
        keys = encode_keys(batch, target.key_columns)
        yield (
            keys.cast(pa.binary()) if keys is not None else None,
            encode_values(batch, target.value_columns).cast(pa.binary()),
        )


# `produce` takes its arguments positionally here: (topic, value, key, partition, callback, on_delivery, timestamp,
# headers). With `headers=` as a keyword, parsing the call cost about 0.25 us of the ~1.2 us a message costs in
# the producing thread (bench/README.md). The values given are produce's own defaults: any partition (librdkafka's
# partitioner picks one by key, RD_KAFKA_PARTITION_UA), no delivery callback, timestamp 0 (librdkafka's "now").
_ANY_PARTITION = -1
_NO_TIMESTAMP = 0
# Python's thread switch interval while producing. The producing loop holds the GIL almost all the time, and the
# encoder and reader threads need it back after each Arrow call (which releases it): at the default 5 ms they waited
# that long at each hand-over, fell behind, and left the producer waiting for them (bench/README.md).
PRODUCING_SWITCH_INTERVAL = 0.0002


class _ShortSwitchInterval:
    """PRODUCING_SWITCH_INTERVAL while any producing loop of the process runs, the process's own value after the
    last one ends. Counted, because the setting is the process's: loops that overlap (tests and benches run stages in
    threads) would otherwise each put back what the other had set, and leave the short interval behind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops = 0
        self._saved = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._loops == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(PRODUCING_SWITCH_INTERVAL)
            self._loops += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._loops -= 1
            if self._loops == 0:
                sys.setswitchinterval(self._saved)


_short_switch_interval = _ShortSwitchInterval()


def _produce_all(
    producer: Producer,
    target: PublishTarget,
    batches: Iterable[pa.RecordBatch],
    on_batch: Callable[[int], None] | None,
    deadline: float,
) -> int:
    from confluent_kafka import KafkaException

    from ingestion.prefetch import prefetched

    # One list for every message, built once rather than per row; values as bytes, so no call re-encodes them.
    headers: list[tuple[str, str | bytes | None]] = [(name, value.encode()) for name, value in target.headers]
    produce = producer.produce
    topic = target.topic
    produced = 0
    # JSON encoding (vectorised in Arrow, which releases the GIL) runs a batch or two ahead in its own thread while
    # this loop produces the batch before: `produce` is the bottleneck, about 1-4 us a message with headers.
    messages = prefetched(_encoded_messages(target, batches), name="message-encoder")
    try:
        with _short_switch_interval:
            for key_array, value_array in messages:
                # Python bytes for `produce`, made here rather than in the encoder thread: then only one batch of them
                # is alive at a time (with the encoder building them ahead, publish of 5M rows peaked ~90 MB higher).
                values: list[bytes] = value_array.to_pylist()
                keys: list[bytes | None] = key_array.to_pylist() if key_array is not None else [None] * len(values)
                # The `except KafkaException` costs nothing until one is raised (Python 3.11's zero-cost try).
                for key, value in zip(keys, values, strict=True):
                    try:
                        produce(topic, value, key, _ANY_PARTITION, None, None, _NO_TIMESTAMP, headers)
                    except BufferError:
                        _produce_when_room(producer, target, value, key, headers, deadline)
                    except KafkaException as exc:
                        raise _refused_message(exc, target, produced, values, value) from None
                before = produced
                produced += len(values)
                producer.poll(0)  # serve the batch's delivery reports: a delivered message is freed only then
                if produced // _PROGRESS_EVERY != before // _PROGRESS_EVERY:
                    log.info("%s: %d messages produced so far", topic, produced)
                if on_batch is not None:
                    on_batch(produced)
    finally:
        messages.close()  # stops the encoder and the reader behind it, also when producing failed
    return produced


def _refused_message(
    exc: Exception, target: PublishTarget, produced: int, values: list[bytes], value: bytes
) -> Exception:
    """The error for a message the producer refused as it was produced: a message over the producer's size limit
    (terminal, naming the row's position and size, never its content), or `exc` itself for anything else."""
    from confluent_kafka import KafkaError

    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError) or error.code() != KafkaError.MSG_SIZE_TOO_LARGE:
        return exc
    position = produced + next(i for i, v in enumerate(values) if v is value) + 1
    share = _share(target) if target.split is not None else " in landing order"
    return MessageTooLargeError(
        f"{target.topic}: row {position}{share} encodes to a {len(value)}-byte message, more than the producer may "
        "send (message.max.bytes, 1000000 by default, and the topic's max.message.bytes); nothing of this attempt "
        "is visible, and a retry would be refused the same way. Raise both limits (the Kafka connection's extra "
        "and the topic), or leave the oversized column out of the entity"
    )


def _produce_when_room(
    producer: Producer,
    target: PublishTarget,
    value: bytes,
    key: bytes | None,
    headers: list[tuple[str, str | bytes | None]],
    deadline: float,
) -> None:
    """Produce one message once the full local queue has room: let librdkafka deliver (and serve the delivery
    reports, which frees the queue), and give up at the deadline rather than spin for ever against a broker that is
    gone."""
    while True:
        producer.poll(0.05)
        if time.monotonic() > deadline:
            raise PublishError(
                f"{target.topic}: the producer queue stayed full until the publish timeout "
                f"({target.timeout_seconds:.0f} s); is the broker reachable?"
            )
        try:
            producer.produce(target.topic, value, key, _ANY_PARTITION, None, None, _NO_TIMESTAMP, headers)
            return
        except BufferError:
            continue


def publish(
    hook: TransactionalKafkaProducerHook,
    target: PublishTarget,
    batches: Callable[[], Iterable[pa.RecordBatch]],
    *,
    on_batch: Callable[[int], None] | None = None,
) -> PublishResult:
    """Publish the batches in one transaction unless the run is already in the topic's publish log.

    `batches` is called only when there is something to publish. `on_batch(produced_so_far)` runs after each
    batch (progress, and fault-injection in tests).
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    started = time.monotonic()
    deadline = started + target.timeout_seconds
    client_config = hook.client_config()
    topic_partitions = ensure_topic(client_config, target)
    written = tuple(range(topic_partitions))
    producer: Producer = hook.get_producer()
    consumer = Consumer(
        {
            **client_config,
            "group.id": target.publish_log_group,
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",  # end offsets must include our own open transaction
        }
    )
    short = min(target.timeout_seconds, 30.0)
    try:
        # First, so a zombie attempt of this entity is fenced and its open transaction aborted before we look.
        _init_transactions(producer, target, short)
        anchor = target.log_partition(topic_partitions)
        published = _read_publish_log(consumer, target.topic, anchor, short)
        if target.run_key in published.runs:
            earlier = published.runs[target.run_key]
            if earlier.landing_id and target.landing_id and earlier.landing_id != target.landing_id:
                raise PublishedOtherLandingError(
                    f"{target.topic}: run {target.run_key} was published with landing {earlier.landing_id} "
                    f"({earlier.rows} messages), but its manifest now names landing {target.landing_id}: the run was "
                    "landed again after it published. Nothing more is published; restore the published landing, or "
                    "trigger a new run"
                )
            rows = earlier.rows
            log.info(
                "%s: run %s was published before (%d messages); not publishing again",
                target.topic,
                target.run_key,
                rows,
            )
            return PublishResult(target.topic, rows, True, {}, round(time.monotonic() - started, 3))
        before = _end_offsets(consumer, target.topic, written, short)
        producer.begin_transaction()
        try:
            expected = target.expected_rows
            # A run with no rows still goes through a transaction: the publish log then records it.
            produced = _produce_all(producer, target, batches(), on_batch, deadline) if expected > 0 else 0
            remaining = producer.flush(max(1.0, deadline - time.monotonic()))
            if remaining:
                raise PublishError(
                    f"{target.topic}: {remaining} message(s) not acknowledged within the publish timeout "
                    f"({target.timeout_seconds:.0f} s)"
                )
            after = _end_offsets(consumer, target.topic, written, short)
            delivered = sum(after[p] - before[p] for p in written)
            # The tasks of a split publish share the partitions: the offsets grow by every task's messages, so they
            # only bound this task's from above.
            lost = delivered < expected if target.split is not None else delivered != expected
            if produced != expected or lost:
                raise PublishCountMismatchError(
                    f"{target.topic}: landed {expected} rows{_share(target)}, produced {produced}, the broker holds "
                    f"{delivered} new messages; aborting so read_committed consumers see none of them"
                    + (
                        " (did another producer write to this topic meanwhile? a topic must have one writer)"
                        if produced == expected and target.split is None
                        else ""
                    )
                )
            marker = published.with_run(target.run_key, produced, target.landing_id)
            producer.send_offsets_to_transaction(
                [TopicPartition(target.topic, anchor, after[anchor], marker.to_metadata())],
                consumer.consumer_group_metadata(),
                short,
            )
            producer.commit_transaction(max(1.0, deadline - time.monotonic()))
        except BaseException:
            _abort(producer, target.topic)
            raise
    except KafkaException as exc:
        raise PublishError(f"{target.topic}: Kafka error, nothing of this attempt is visible: {exc}") from exc
    finally:
        consumer.close()
    seconds = round(time.monotonic() - started, 3)
    log.info("%s: committed %d messages%s in %.1f s", target.topic, produced, _share(target), seconds)
    return PublishResult(target.topic, produced, False, {p: (before[p], after[p]) for p in written}, seconds)


def _share(target: PublishTarget) -> str:
    split = target.split
    return "" if split is None else f" of partition {split.group}'s share (of {split.groups})"


def _init_transactions(producer: Producer, target: PublishTarget, timeout: float) -> None:
    from confluent_kafka import KafkaError, KafkaException

    try:
        producer.init_transactions(timeout)
    except KafkaException as exc:
        if exc.args and exc.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT:
            raise TransactionTimeoutRefusedError(
                f"{target.topic}: the broker refuses this publish's transaction timeout (publish_timeout_seconds "
                f"{target.timeout_seconds:.0f} plus the margin) as above its transaction.max.timeout.ms; lower "
                "kafka.publish_timeout_seconds or raise the broker setting"
            ) from exc
        raise


def _abort(producer: Producer, topic: str) -> None:
    from confluent_kafka import KafkaException

    try:
        producer.abort_transaction(10)
        log.warning("%s: transaction aborted; nothing of this attempt is visible to read_committed", topic)
    except KafkaException as exc:
        # The broker is unreachable: it aborts the transaction itself when it times out, or when the next
        # attempt with the same transactional id fences this one. Either way read_committed never sees it.
        log.warning("%s: could not abort the transaction now (%s); the broker will abort it", topic, exc)
