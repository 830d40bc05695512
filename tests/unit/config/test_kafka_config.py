"""kafka.publish_timeout_seconds: the Kafka transaction timeout derived from it, and its bound by the broker's
transaction.max.timeout.ms (Kafka's default, 900000 ms)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ingestion.config.loader import load_configs
from ingestion.config.models import Kafka

CONFIG: dict[str, Any] = {
    "name": "crm",
    "owners": {"primary": "a@example.com", "team": "t"},
    "start_date": "2026-11-01T00:00:00Z",
    "kind": "sql",
    "conn_id": "crm_postgres",
    "entities": [{"name": "orders", "locator": {"kind": "sql", "table": "orders"}, "primary_key": ["id"]}],
}


@pytest.mark.parametrize(("publish_timeout", "transaction_timeout_ms"), [(10, 70_000), (300, 360_000), (840, 900_000)])
def test_the_transaction_outlives_the_publish_deadline_by_a_minute(
    publish_timeout: int, transaction_timeout_ms: int
) -> None:
    # The publish aborts at its own deadline; the broker must not have fenced the producer before then.
    assert Kafka(publish_timeout_seconds=publish_timeout).transaction_timeout_ms == transaction_timeout_ms


def test_the_default_publish_outlives_librdkafkas_default_transaction_timeout() -> None:
    # librdkafka's default transaction.timeout.ms is 60 s: a 7M-row publish was fenced by the broker at 64 s.
    assert Kafka().publish_timeout_seconds == 300
    assert Kafka().transaction_timeout_ms == 360_000


def test_a_publish_timeout_the_broker_would_refuse_is_refused_naming_the_field_and_the_broker_setting() -> None:
    assert Kafka(publish_timeout_seconds=840).publish_timeout_seconds == 840  # 840 s + 60 s = the broker's 900 s
    with pytest.raises(ValidationError) as refused:
        Kafka(publish_timeout_seconds=841)
    message = str(refused.value)
    assert "publish_timeout_seconds" in message
    assert "841" in message
    assert "at most 840" in message
    assert "transaction.max.timeout.ms" in message
    assert "900000" in message


def test_the_loader_names_the_file_and_the_field_of_a_publish_timeout_above_the_broker_limit(tmp_path: Path) -> None:
    entity_level = {**CONFIG["entities"][0], "kafka": {"publish_timeout_seconds": 3600}}
    (tmp_path / "crm.json").write_text(json.dumps({**CONFIG, "kafka": {"publish_timeout_seconds": 900}}))
    (tmp_path / "erp.json").write_text(json.dumps({**CONFIG, "name": "erp", "entities": [entity_level]}))
    (tmp_path / "ok.json").write_text(json.dumps({**CONFIG, "name": "ok", "kafka": {"publish_timeout_seconds": 840}}))

    result = load_configs(tmp_path)

    assert sorted(result.configs) == ["ok"]
    [crm] = result.errors_for("crm.json")
    assert crm.path == "$.kafka.publish_timeout_seconds"
    assert "transaction.max.timeout.ms" in crm.message
    [erp] = result.errors_for("erp.json")
    assert erp.path == "$.entities[0].kafka.publish_timeout_seconds"
    assert "transaction.max.timeout.ms" in erp.message


def test_the_json_schema_states_the_bound() -> None:
    schema = Kafka.model_json_schema()["properties"]["publish_timeout_seconds"]
    assert (schema["minimum"], schema["maximum"], schema["default"]) == (10, 840, 300)


def test_a_topic_name_kafka_refuses_is_refused_at_validation(tmp_path: Path) -> None:
    # Kafka refuses topic names over 249 characters when the topic is created: the first publish failed, days after
    # `validate` said ok. The name is checked as the entity gets it: the template filled with source and entity.
    long_prefix = "a" * 230  # 230 + ".crm.orders" = 241 characters: fits; ".erp.orders_from_the_warehouse" does not
    (tmp_path / "crm.json").write_text(
        json.dumps({**CONFIG, "kafka": {"topic_template": long_prefix + ".{source}.{entity}"}})
    )
    erp_entity = {**CONFIG["entities"][0], "name": "orders_from_the_warehouse"}
    erp = {
        **CONFIG,
        "name": "erp",
        "kafka": {"topic_template": long_prefix + ".{source}.{entity}"},
        "entities": [erp_entity],
    }
    (tmp_path / "erp.json").write_text(json.dumps(erp))
    dots = {**CONFIG, "name": "dots", "entities": [{**CONFIG["entities"][0], "kafka": {"topic_template": ".."}}]}
    (tmp_path / "dots.json").write_text(json.dumps(dots))

    result = load_configs(tmp_path)

    assert sorted(result.configs) == ["crm"]
    [too_long] = result.errors_for("erp.json")
    assert (
        "entity 'orders_from_the_warehouse': its topic is 260 characters; Kafka allows at most 249" in too_long.message
    )
    [dotted] = result.errors_for("dots.json")
    assert "entity 'orders': its topic '..' is a name Kafka refuses" in dotted.message
