from __future__ import annotations

import pytest

from ingestion.publish.kafka_publisher import PublishedRun, PublishLog, publish_group


def test_round_trip_and_newest_last() -> None:
    log = PublishLog().with_run("r1", 10, "a1").with_run("r2", 0).with_run("r1", 11, "a2")
    again = PublishLog.from_metadata(log.to_metadata())
    assert again.runs == {"r2": PublishedRun(0), "r1": PublishedRun(11, "a2")}
    assert list(again.runs) == ["r2", "r1"]


def test_logs_written_before_landing_ids_still_read() -> None:
    assert PublishLog.from_metadata('{"v":1,"runs":{"r1":10}}').runs == {"r1": PublishedRun(10)}


def test_the_log_is_per_source_and_entity_not_per_topic() -> None:
    # Defect: the log was per topic and keyed by run id alone, so two sources publishing to one topic on the same
    # schedule (same run ids) found each other's runs in it and skipped their own publish.
    assert publish_group("crm", "orders") != publish_group("erp", "orders")
    assert publish_group("crm", "orders") == "ingest-publish.crm.orders"


def test_stays_under_kafkas_offset_metadata_limit_by_forgetting_the_oldest() -> None:
    log = PublishLog()
    for i in range(500):
        log = log.with_run(f"scheduled__2026-11-22T{i:05d}:00:00+00:00", i)
    assert len(log.to_metadata().encode()) <= 3000
    assert "scheduled__2026-11-22T00499:00:00+00:00" in log.runs
    assert "scheduled__2026-11-22T00000:00:00+00:00" not in log.runs


def test_missing_or_garbled_metadata_is_an_empty_log() -> None:
    assert PublishLog.from_metadata(None).runs == {}
    assert PublishLog.from_metadata("").runs == {}
    assert PublishLog.from_metadata("not json").runs == {}
    assert PublishLog.from_metadata('{"runs": {"r1": "x"}}').runs == {}


def test_coordinator_moves_and_loads_are_retried_other_errors_are_not() -> None:
    from confluent_kafka import KafkaError, KafkaException

    from ingestion.publish.kafka_publisher import _is_retriable

    assert _is_retriable(KafkaException(KafkaError(KafkaError.NOT_COORDINATOR)))
    assert _is_retriable(KafkaException(KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS)))
    assert not _is_retriable(KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)))
    assert not _is_retriable(ValueError("x"))


def test_end_offsets_are_asked_again_while_a_partition_has_no_leader_yet() -> None:
    # A topic created a moment ago answered NOT_LEADER_FOR_PARTITION to the first offset fetch on a loaded machine,
    # and the publish failed (to be retried whole by Airflow) for what asking again a moment later would have read.
    from confluent_kafka import KafkaError, KafkaException

    from ingestion.publish.kafka_publisher import _end_offsets

    class LeaderlessAtFirst:
        def __init__(self) -> None:
            self.asked = 0

        def get_watermark_offsets(self, partition: object, timeout: float) -> tuple[int, int]:
            self.asked += 1
            if self.asked == 1:
                raise KafkaException(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION))
            return 0, 7

    consumer = LeaderlessAtFirst()
    assert _end_offsets(consumer, "t", [0, 1], timeout=5.0) == {0: 7, 1: 7}  # type: ignore[arg-type]
    assert consumer.asked == 3

    class Refusing:
        def get_watermark_offsets(self, partition: object, timeout: float) -> tuple[int, int]:
            raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))

    with pytest.raises(KafkaException):
        _end_offsets(Refusing(), "t", [0], timeout=5.0)  # type: ignore[arg-type]
