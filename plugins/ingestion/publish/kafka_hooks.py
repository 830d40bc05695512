"""Kafka producer hook for exactly-once publishing (for read_committed consumers).

The provider's `KafkaProducerHook` builds a confluent-kafka `Producer` from the connection's extra. This subclass
adds the settings exactly-once needs on top of whatever the connection says, so a connection cannot weaken them:
idempotence, `acks=all`, and a stable `transactional.id` per source and entity, which lets the broker fence a
zombie attempt and abort what it left open.

The transaction timeout comes from the entity's publish timeout (`Kafka.transaction_timeout_ms`), never lower:
librdkafka's default of 60 s made the broker fence any publish that took longer. The message and socket timeouts are
kept within it, as librdkafka requires of a transactional producer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

from ingestion.config.models import Kafka

if TYPE_CHECKING:
    from confluent_kafka import Producer

EXACTLY_ONCE_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "max.in.flight.requests.per.connection": 5,
}

# Throughput defaults for bulk publishing (measured in bench/): bigger batches, a short linger. A connection's extra
# or the caller may change them; compression stays off by default because on 2 shared cores lz4 cost ~25%.
THROUGHPUT_DEFAULTS: dict[str, Any] = {
    "linger.ms": 50,
    "batch.size": 1_000_000,
    # Bounds the producer's local queue (and so the task's memory); the loop waits for acks when it is full.
    # Its memory is about 1 KB a queued message (headers included): 100k messages cost ~95 MB, 20k ~20 MB, with
    # the same rate within the run-to-run noise (bench/README.md).
    "queue.buffering.max.messages": 20_000,
    "queue.buffering.max.kbytes": 16_384,
}

# What the entity config's default publish timeout needs, for callers that do not say.
DEFAULT_TRANSACTION_TIMEOUT_MS = Kafka().transaction_timeout_ms
# librdkafka's own default for a network request. A transactional producer would otherwise wait up to its transaction
# timeout (up to 15 min here) for a request to a broker that stopped answering.
SOCKET_TIMEOUT_MS = 60_000
# librdkafka's lower bound for transaction.timeout.ms.
_MIN_TRANSACTION_TIMEOUT_MS = 1000


class TransactionalKafkaProducerHook(KafkaProducerHook):
    """A `KafkaProducerHook` whose producer is idempotent and transactional.

    :param kafka_config_id: Airflow connection whose extra is the confluent-kafka client config.
    :param transactional_id: stable per source and entity, e.g. ``ingest.crm.customers``.
    :param producer_config: further client settings (e.g. ``linger.ms``); cannot override the exactly-once ones.
    :param transaction_timeout_ms: how long the broker lets a transaction stay open before it aborts it and fences
        the producer: the entity's ``Kafka.transaction_timeout_ms``. A connection or ``producer_config`` may raise
        it, never lower it.
    """

    def __init__(
        self,
        *,
        transactional_id: str,
        kafka_config_id: str = KafkaProducerHook.default_conn_name,
        producer_config: dict[str, Any] | None = None,
        transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS,
    ) -> None:
        super().__init__(kafka_config_id=kafka_config_id)
        if not transactional_id:
            raise ValueError("transactional_id must be a non-empty, stable string")
        if transaction_timeout_ms < _MIN_TRANSACTION_TIMEOUT_MS:
            raise ValueError(f"transaction_timeout_ms must be at least {_MIN_TRANSACTION_TIMEOUT_MS}")
        self.transactional_id = transactional_id
        self.producer_config = dict(producer_config or {})
        self.transaction_timeout_ms = transaction_timeout_ms

    def client_config(self) -> dict[str, Any]:
        """The connection's client config (callbacks resolved), for the admin client and consumers beside the
        producer, so all three reach the cluster the same way."""
        return self._build_config()

    def _get_client(self, config: dict[str, Any]) -> Producer:
        from confluent_kafka import Producer

        return Producer(
            exactly_once_config(config, self.producer_config, self.transactional_id, self.transaction_timeout_ms)
        )


def exactly_once_config(
    connection: dict[str, Any],
    overrides: dict[str, Any],
    transactional_id: str,
    transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS,
) -> dict[str, Any]:
    """Client config: throughput defaults, then the connection's, then the caller's overrides, then the
    exactly-once settings, which always win, and the transaction timeouts (see `transaction_timeouts`)."""
    config = {
        **THROUGHPUT_DEFAULTS,
        **connection,
        **overrides,
        **EXACTLY_ONCE_SETTINGS,
        "transactional.id": transactional_id,
    }
    config.update(transaction_timeouts(config, transaction_timeout_ms))
    return config


def transaction_timeouts(config: dict[str, Any], transaction_timeout_ms: int) -> dict[str, int]:
    """`transaction.timeout.ms` at least `transaction_timeout_ms` (a higher one in `config` stays), and the timeouts
    librdkafka requires to fit within it: `message.timeout.ms` (alias `delivery.timeout.ms`) no longer than it, or
    librdkafka refuses to build the producer (unset, librdkafka makes it the transaction timeout); `socket.timeout.ms`
    at most it, librdkafka's usual 60 s unless `config` sets it."""
    transaction_ms = max(int(config.get("transaction.timeout.ms", 0)), transaction_timeout_ms)
    timeouts = {
        "transaction.timeout.ms": transaction_ms,
        "socket.timeout.ms": min(int(config.get("socket.timeout.ms", SOCKET_TIMEOUT_MS)), transaction_ms),
    }
    for key in ("message.timeout.ms", "delivery.timeout.ms"):
        if key in config:
            timeouts[key] = min(int(config[key]), transaction_ms)
    return timeouts
