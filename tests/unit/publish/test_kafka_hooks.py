from __future__ import annotations

import pytest

from ingestion.publish.kafka_hooks import TransactionalKafkaProducerHook, exactly_once_config


def test_exactly_once_settings_win_over_connection_and_overrides() -> None:
    config = exactly_once_config(
        {"bootstrap.servers": "b:9092", "acks": "1", "enable.idempotence": False},
        {"acks": "0", "linger.ms": 20, "transactional.id": "someone-else"},
        "ingest.crm.customers",
    )
    assert config == {
        "bootstrap.servers": "b:9092",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 20_000,
        "queue.buffering.max.kbytes": 16_384,
        "acks": "all",
        "enable.idempotence": True,
        "max.in.flight.requests.per.connection": 5,
        "transactional.id": "ingest.crm.customers",
    }


def test_transactional_id_is_required() -> None:
    with pytest.raises(ValueError, match="transactional_id"):
        TransactionalKafkaProducerHook(transactional_id="")


def test_connection_can_change_throughput_defaults() -> None:
    config = exactly_once_config({"bootstrap.servers": "b:9092", "batch.size": 16384}, {}, "t")
    assert config["batch.size"] == 16384
    assert config["linger.ms"] == 50
