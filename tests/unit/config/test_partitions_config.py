"""load.partitions: what a config may ask for, each refusal naming what to change; and the DAG it builds (a mapped
extract_land, one task instance per partition)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ingestion.config.models import SourceConfig

COLUMNS = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "code", "type": "string"},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]


def config(load: dict[str, Any], *, kind: str = "sql", primary_key: tuple[str, ...] = ("order_id",)) -> dict[str, Any]:
    locator = {"kind": "sql", "table": "orders"} if kind == "sql" else {"kind": "http", "endpoint": "/v1/orders"}
    return {
        "name": "unit",
        "owners": {"primary": "data-eng@example.com", "team": "data-eng"},
        "schedule": "@daily",
        "start_date": "2026-11-01T00:00:00Z",
        "kind": kind,
        "conn_id": "unused",
        "entities": [
            {"name": "orders", "locator": locator, "primary_key": list(primary_key), "columns": COLUMNS, "load": load}
        ],
    }


@pytest.mark.parametrize(
    ("load", "kind", "primary_key", "message"),
    [
        ({"partitions": {"count": 2}}, "http", ("order_id",), "load.partitions is for sql entities"),
        ({"partitions": {"count": 2}}, "sql", (), "a hash of the primary_key: declare one"),
        ({"partitions": {"count": 2, "column": "code"}}, "sql", (), "'code' is string: it needs an integer column"),
        ({"partitions": {"count": 2, "column": "nope"}}, "sql", (), "'nope' is not among the declared columns"),
        ({"partitions": {"count": 2, "column": "order_id"}}, "sql", (), "'order_id' is not in the primary_key"),
        ({"partitions": {"count": 2, "ranges": True}}, "sql", ("order_id",), "ranges needs load.partitions.column"),
        ({"partitions": {"count": 1}}, "sql", ("order_id",), "greater than or equal to 2"),
        ({"partitions": {"count": 65}}, "sql", ("order_id",), "less than or equal to 64"),
    ],
)
def test_partitions_a_config_cannot_have_are_refused_naming_why(
    load: dict[str, Any], kind: str, primary_key: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SourceConfig.model_validate(config(load, kind=kind, primary_key=primary_key))


def test_more_partitions_than_the_topic_has_are_accepted() -> None:
    """Each publish task publishes its own partition's rows into any of the topic's partitions, so the count is not
    bounded by kafka.partitions (3 here)."""
    source = SourceConfig.model_validate(config({"partitions": {"count": 8}}))
    assert source.entities[0].load.partitions is not None
    assert source.entities[0].load.partitions.count == 8


@pytest.mark.parametrize("mode", ["full", "interval", "incremental"])
def test_every_load_mode_of_a_sql_entity_may_be_read_in_partitions(mode: str) -> None:
    load: dict[str, Any] = {"mode": mode, "partitions": {"count": 2, "column": "order_id", "ranges": True}}
    if mode != "full":
        load["cursor_column"] = "updated_at"
    source = SourceConfig.model_validate(config(load))
    entity = source.entities[0]
    assert entity.load.partitions is not None
    assert entity.load.partitions.count == 2
    # The runbook names the split, and for an incremental entity how its window is kept.
    from ingestion.builder import build_dag
    from ingestion.planner import plan_source

    runbook = build_dag(plan_source(source)).doc_md or ""
    assert "by ranges of `order_id` cut once per run): a failed partition is retried or cleared alone" in runbook
    assert ("after a `watermark set` clear every partition's extract_land" in runbook) == (mode == "incremental")


def test_a_partitioned_entity_maps_its_extract_land_and_publish() -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from ingestion.builder import build_dag
    from ingestion.planner import plan_source

    source = SourceConfig.model_validate(
        config({"mode": "interval", "cursor_column": "updated_at", "partitions": {"count": 3}})
    )
    dag = build_dag(plan_source(source))

    for stage in ("extract_land", "publish"):
        mapped = dag.get_task(f"orders.{stage}")
        assert isinstance(mapped, MappedOperator)
        assert mapped.expand_input.value == {"partition": [0, 1, 2]}
    assert not any(isinstance(dag.get_task(f"orders.{s}"), MappedOperator) for s in ("validate", "commit"))
    assert dag.get_task("orders.validate").upstream_task_ids == {"orders.extract_land"}
    assert dag.get_task("orders.commit").upstream_task_ids == {"orders.publish"}
    assert dag.get_task("orders.publish").max_active_tis_per_dag == 3  # a run's groups side by side
    # The runbook tells the on-call engineer that a partition is retried or cleared alone.
    runbook = dag.doc_md or ""
    assert "read and published in 3 partitions side by side (extract_land and publish map indexes 0-2" in runbook
    assert "by a hash of the primary key): a failed partition is retried or cleared alone" in runbook


def test_a_pii_key_column_is_not_split_in_ranges() -> None:
    """Cut points spread between the column's min and max would be stored beside the landing as they are."""
    raw = config({"partitions": {"count": 2, "column": "order_id", "ranges": True}})
    raw["entities"][0]["columns"] = [
        {**COLUMNS[0], "pii": True, "pii_strategy": "hash"},
        *COLUMNS[1:],
    ]
    with pytest.raises(ValidationError, match="'order_id' is PII: ranges would store cut points"):
        SourceConfig.model_validate(raw)
    raw["entities"][0]["load"]["partitions"]["ranges"] = False
    SourceConfig.model_validate(raw)  # a modulo of it is fine: nothing of its values is stored
