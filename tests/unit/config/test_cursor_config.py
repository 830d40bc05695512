"""The cursor settings a config can get wrong: a lookback in the cursor's own unit (minutes for timestamps, ids for
integers), and the zone of a source's zone-less timestamps."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ingestion.config.models import SourceConfig
from ingestion.planner import plan_source


def _config(cursor_type: str, load: dict[str, Any], kind: str = "sql", **fields: Any) -> dict[str, Any]:
    locator: dict[str, Any] = {"kind": "sql", "table": "orders"}
    if kind == "http":
        locator = {"kind": "http", "endpoint": "/v1/orders", "incremental_param": "updated_since"}
    return {
        "name": "shop",
        "owners": {"primary": "a@example.com", "team": "t"},
        "start_date": "2026-11-01T00:00:00Z",
        "kind": kind,
        "conn_id": "shop_mysql",
        "entities": [
            {
                "name": "orders",
                "locator": locator,
                "primary_key": ["id"],
                "columns": [{"name": "id", "type": "bigint"}, {"name": "cursor", "type": cursor_type}],
                "load": {"mode": "incremental", "cursor_column": "cursor", **load},
            }
        ],
        **fields,
    }


@pytest.mark.parametrize(
    ("cursor_type", "load"),
    [
        ("bigint", {"lookback_ids": 500}),
        ("integer", {"lookback_ids": 1}),
        ("timestamp", {"lookback_minutes": 30}),
        ("timestamp_ntz", {"lookback_minutes": 30}),
        ("string", {}),
    ],
)
def test_a_lookback_in_the_cursors_unit_is_accepted(cursor_type: str, load: dict[str, Any]) -> None:
    entity = SourceConfig.model_validate(_config(cursor_type, load)).entities[0]
    assert entity.load.lookback_ids == load.get("lookback_ids", 0)
    assert entity.load.lookback_minutes == load.get("lookback_minutes", 0)


@pytest.mark.parametrize(
    ("cursor_type", "load", "message"),
    [
        ("bigint", {"lookback_minutes": 30}, "cursor column 'cursor' is bigint: use load.lookback_ids"),
        ("timestamp", {"lookback_ids": 5}, "cursor column 'cursor' is timestamp: use load.lookback_minutes"),
        ("string", {"lookback_minutes": 5}, "a lookback needs a timestamp or integer cursor; 'cursor' is string"),
        ("decimal(10,2)", {"lookback_ids": 5}, "a lookback needs a timestamp or integer cursor"),
    ],
)
def test_a_lookback_in_the_wrong_unit_is_refused_naming_the_cursor(
    cursor_type: str, load: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SourceConfig.model_validate(_config(cursor_type, load))


def test_lookback_ids_cannot_be_negative() -> None:
    with pytest.raises(ValidationError, match="lookback_ids"):
        SourceConfig.model_validate(_config("bigint", {"lookback_ids": -1}))


def test_the_source_zone_is_utc_unless_named_and_reaches_every_entity_plan() -> None:
    assert SourceConfig.model_validate(_config("timestamp", {})).source_timezone == "UTC"
    config = SourceConfig.model_validate(_config("timestamp", {}, source_timezone="Europe/Berlin"))
    assert config.source_timezone == "Europe/Berlin"
    assert plan_source(config).entities[0].source_timezone == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "CET+1", "", "../../etc/passwd"])
def test_an_unknown_zone_is_refused(zone: str) -> None:
    with pytest.raises(ValidationError, match="source_timezone"):
        SourceConfig.model_validate(_config("timestamp", {}, source_timezone=zone))


def test_the_source_zone_is_for_sql_sources_only() -> None:
    # REST and file sources read zone-less timestamp text as UTC; a zone here would be silently ignored.
    with pytest.raises(ValidationError, match="source_timezone applies to sql sources"):
        SourceConfig.model_validate(_config("timestamp", {}, kind="http", source_timezone="Europe/Berlin"))
    assert SourceConfig.model_validate(_config("timestamp", {}, kind="http")).source_timezone == "UTC"


@pytest.mark.parametrize(
    ("cursor_type", "load", "primary_key", "expected", "absent"),
    [
        (
            "bigint",
            {"lookback_ids": 500},
            ["id"],
            ["up to the largest `cursor` at the start (no time margin", "500 ids below the watermark"],
            ["now -", "left out by primary key"],
        ),
        (
            "timestamp",
            {"safety_margin_seconds": 120},
            ["id"],
            ["from the watermark, inclusive", "now - 120 s", "left out by primary key", "read as Europe/Berlin"],
            ["re-reads"],
        ),
        ("timestamp", {}, [], ["no primary key: rows at the watermark's value are read and sent again"], []),
    ],
)
def test_the_runbook_states_the_window_rule_of_the_cursors_type(
    cursor_type: str, load: dict[str, Any], primary_key: list[str], expected: list[str], absent: list[str]
) -> None:
    from ingestion.runbook import render_runbook

    raw = _config(cursor_type, load, source_timezone="Europe/Berlin")
    raw["entities"][0]["primary_key"] = primary_key
    text = render_runbook(plan_source(SourceConfig.model_validate(raw)))
    line = next(line for line in text.splitlines() if line.startswith("- Load:"))
    for part in expected:
        assert part in line
    for part in absent:
        assert part not in line
