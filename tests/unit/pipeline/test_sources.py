"""What the kinds of source decide before touching their source: REST windows as query parameters, refused configs,
and the kind each entity gets."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ingestion.config.models import SourceConfig
from ingestion.extract.cursor import Cursor
from ingestion.extract.errors import CursorConfigError
from ingestion.pipeline.errors import ConfigNotSupportedError
from ingestion.pipeline.run_info import RunInfo
from ingestion.pipeline.sources import source_for
from ingestion.pipeline.sources.rest_source import RestSource
from ingestion.pipeline.sources.sftp_source import SftpSource
from ingestion.pipeline.sources.sql_source import SqlSource
from ingestion.planner import EntityPlan, plan_entity
from ingestion.state.store import Watermark
from tests.unit.pipeline.conftest import orders_plan

END = datetime(2026, 11, 2, tzinfo=UTC)
RUN = RunInfo("ingest_api", "scheduled__x", "scheduled", END - timedelta(days=1), END, END)
MARK = Watermark("api", "orders", "2026-11-01T10:00:00+00:00", "timestamp", "run-1", END)


def _rest_plan(load: dict[str, Any], **locator: Any) -> EntityPlan:
    config = SourceConfig.model_validate(
        {
            "name": "api",
            "owners": {"primary": "data-eng@example.com", "team": "data-eng"},
            "schedule": "@daily",
            "start_date": "2026-11-01T00:00:00Z",
            "kind": "http",
            "conn_id": "orders_api",
            "entities": [
                {
                    "name": "orders",
                    "locator": {"kind": "http", "endpoint": "/v1/orders", "params": {"status": "all"}, **locator},
                    "primary_key": ["id"],
                    "columns": [
                        {"name": "id", "type": "bigint", "nullable": False},
                        {"name": "updated_at", "type": "timestamp"},
                    ],
                    "load": load,
                }
            ],
        }
    )
    return plan_entity(config, config.entities[0])


def _window(plan: EntityPlan, run: RunInfo = RUN, mark: Watermark | None = MARK) -> tuple[Any, dict[str, str]]:
    source = RestSource(plan, run)
    cursor = Cursor.for_rows(plan.entity.load, mark, full_refresh=run.full_refresh, where=source.where)
    return source.window_and_params(cursor)


def test_an_incremental_rest_window_asks_from_the_watermark_less_the_lookback() -> None:
    load = {"mode": "incremental", "cursor_column": "updated_at", "lookback_minutes": 30}
    window, params = _window(_rest_plan(load, incremental_param="updated_since"))
    assert params == {"status": "all", "updated_since": "2026-11-01T09:30:00Z"}
    assert (window.mode, window.high, window.low_inclusive) == ("incremental", None, True)


def test_an_interval_rest_window_sends_both_ends_and_needs_a_data_interval() -> None:
    plan = _rest_plan(
        {"mode": "interval", "cursor_column": "updated_at"}, incremental_param="from", interval_end_param="to"
    )
    window, params = _window(plan)
    assert params == {"status": "all", "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}
    assert (window.low, window.high, window.high_inclusive) == (END - timedelta(days=1), END, False)
    manual = RunInfo("ingest_api", "manual__x", "manual", None, None, END)
    with pytest.raises(ConfigNotSupportedError, match="interval loads need a run with a data interval"):
        _window(plan, manual)


def test_rest_configs_a_window_cannot_be_asked_with_are_refused() -> None:
    with pytest.raises(ConfigNotSupportedError, match=r"need locator\.incremental_param"):
        _window(_rest_plan({"mode": "incremental", "cursor_column": "updated_at"}))
    full, params = _window(_rest_plan({"mode": "full"}))
    assert (full.mode, params) == ("full", {"status": "all"})
    integer_mark = Watermark("api", "orders", "41", "integer", "run-1", END)
    load = {"mode": "incremental", "cursor_column": "updated_at", "lookback_minutes": 5}
    with pytest.raises(CursorConfigError, match=r"^api\.orders: load\.lookback_minutes is for timestamp cursors"):
        _window(_rest_plan(load, incremental_param="since"), mark=integer_mark)


def test_each_kind_gets_its_source_and_a_sql_entity_must_declare_its_columns() -> None:
    assert isinstance(source_for(orders_plan(), RUN), SqlSource)
    assert isinstance(source_for(_rest_plan({"mode": "full"}), RUN), RestSource)
    plan = orders_plan()
    bare = dataclasses.replace(plan, entity=plan.entity.model_copy(update={"columns": ()}))
    with pytest.raises(ConfigNotSupportedError, match="SQL entities land exactly the declared columns"):
        SqlSource(bare, RUN).check_config()
    assert SftpSource.counts_records
    assert not SqlSource.counts_records
