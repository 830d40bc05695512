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
        "transaction.timeout.ms": 360_000,  # the default 300 s publish and a minute
        "socket.timeout.ms": 60_000,
    }


def test_transactional_id_is_required() -> None:
    with pytest.raises(ValueError, match="transactional_id"):
        TransactionalKafkaProducerHook(transactional_id="")


def test_connection_can_change_throughput_defaults() -> None:
    config = exactly_once_config({"bootstrap.servers": "b:9092", "batch.size": 16384}, {}, "t")
    assert config["batch.size"] == 16384
    assert config["linger.ms"] == 50


def test_the_transaction_timeout_is_the_publishs_and_a_connection_cannot_lower_it() -> None:
    # librdkafka's default is 60 s: the broker fenced a 7M-row publish 64 s after it began.
    assert exactly_once_config({}, {}, "t")["transaction.timeout.ms"] == 360_000  # the default 300 s publish
    lowered = exactly_once_config({"transaction.timeout.ms": 60_000}, {"transaction.timeout.ms": "1000"}, "t", 660_000)
    assert lowered["transaction.timeout.ms"] == 660_000
    raised = exactly_once_config({"transaction.timeout.ms": 900_000}, {}, "t", 660_000)
    assert raised["transaction.timeout.ms"] == 900_000


def test_message_and_socket_timeouts_stay_within_the_transaction_timeout() -> None:
    # librdkafka refuses a transactional producer whose message.timeout.ms (alias delivery.timeout.ms) exceeds the
    # transaction timeout, and otherwise sets socket.timeout.ms to the transaction timeout (up to 15 min a request).
    config = exactly_once_config({}, {}, "t", 660_000)
    assert config["socket.timeout.ms"] == 60_000
    assert "message.timeout.ms" not in config  # librdkafka then uses the transaction timeout
    config = exactly_once_config(
        {"message.timeout.ms": 900_000, "delivery.timeout.ms": "800000", "socket.timeout.ms": 300_000}, {}, "t", 70_000
    )
    assert (config["message.timeout.ms"], config["delivery.timeout.ms"], config["socket.timeout.ms"]) == (
        70_000,
        70_000,
        70_000,
    )
    shorter = exactly_once_config({"message.timeout.ms": 15_000, "socket.timeout.ms": "20000"}, {}, "t", 70_000)
    assert (shorter["message.timeout.ms"], shorter["socket.timeout.ms"]) == (15_000, 20_000)


@pytest.mark.parametrize(
    "connection",
    [
        {},
        {"message.timeout.ms": 900_000},
        {"delivery.timeout.ms": "900000"},
        {"socket.timeout.ms": 300_000, "transaction.timeout.ms": 60_000},
    ],
)
@pytest.mark.parametrize("transaction_timeout_ms", [None, 70_000, 900_000])
def test_librdkafka_accepts_the_config_whatever_the_connection_says(
    connection: dict[str, object], transaction_timeout_ms: int | None
) -> None:
    from confluent_kafka import Producer

    # Building a producer checks the timeouts against each other without reaching a broker (none listens on port 1).
    connection = {"bootstrap.servers": "127.0.0.1:1", "log_level": 0, **connection}
    if transaction_timeout_ms is None:  # the hook's default
        Producer(exactly_once_config(connection, {}, "t"))
    else:
        Producer(exactly_once_config(connection, {}, "t", transaction_timeout_ms))


def test_the_hook_carries_its_transaction_timeout() -> None:
    assert TransactionalKafkaProducerHook(transactional_id="t").transaction_timeout_ms == 360_000
    hook = TransactionalKafkaProducerHook(transactional_id="t", transaction_timeout_ms=900_000)
    assert hook.transaction_timeout_ms == 900_000
    with pytest.raises(ValueError, match="transaction_timeout_ms"):
        TransactionalKafkaProducerHook(transactional_id="t", transaction_timeout_ms=999)
