"""Kafka producer hook for exactly-once publishing (for read_committed consumers).

The provider's `KafkaProducerHook` builds a confluent-kafka `Producer` from the connection's extra. This subclass
adds the settings exactly-once needs on top of whatever the connection says, so a connection cannot weaken them:
idempotence, `acks=all`, and a stable `transactional.id` per source and entity, which lets the broker fence a
zombie attempt and abort what it left open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

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


class TransactionalKafkaProducerHook(KafkaProducerHook):
    """A `KafkaProducerHook` whose producer is idempotent and transactional.

    :param kafka_config_id: Airflow connection whose extra is the confluent-kafka client config.
    :param transactional_id: stable per source and entity, e.g. ``ingest.crm.customers``.
    :param producer_config: further client settings (e.g. ``linger.ms``); cannot override the exactly-once ones.
    """

    def __init__(
        self,
        *,
        transactional_id: str,
        kafka_config_id: str = KafkaProducerHook.default_conn_name,
        producer_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(kafka_config_id=kafka_config_id)
        if not transactional_id:
            raise ValueError("transactional_id must be a non-empty, stable string")
        self.transactional_id = transactional_id
        self.producer_config = dict(producer_config or {})

    def client_config(self) -> dict[str, Any]:
        """The connection's client config (callbacks resolved), for the admin client and consumers beside the
        producer, so all three reach the cluster the same way."""
        return self._build_config()

    def _get_client(self, config: dict[str, Any]) -> Producer:
        from confluent_kafka import Producer

        return Producer(exactly_once_config(config, self.producer_config, self.transactional_id))


def exactly_once_config(connection: dict[str, Any], overrides: dict[str, Any], transactional_id: str) -> dict[str, Any]:
    """Client config: throughput defaults, then the connection's, then the caller's overrides, then the
    exactly-once settings, which always win."""
    return {
        **THROUGHPUT_DEFAULTS,
        **connection,
        **overrides,
        **EXACTLY_ONCE_SETTINGS,
        "transactional.id": transactional_id,
    }
