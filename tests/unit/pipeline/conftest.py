"""Stage bodies on an SQLite control store and a landing zone in memory, with a source of the test's own."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import create_engine

from ingestion.config.models import SourceConfig
from ingestion.extract.cursor import Cursor
from ingestion.land.landing_facts import LandingFacts
from ingestion.pipeline.run_info import RunInfo
from ingestion.pipeline.sources.base import Source, SourceBatch, SourceRead
from ingestion.pipeline.storage import StageStorage
from ingestion.planner import EntityPlan, plan_entity
from ingestion.state.store import ControlStore
from tests.unit.pipeline.memory_lake import MemoryLakes

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 5, tzinfo=UTC)
SCHEMA = pa.schema(
    [pa.field("order_id", pa.int64(), nullable=False), pa.field("updated_at", pa.timestamp("us", tz="UTC"), False)]
)


def orders_plan(
    mode: str = "incremental", *, load: dict[str, Any] | None = None, updated_at: dict[str, Any] | None = None
) -> EntityPlan:
    """The orders entity with a `mode` load on updated_at, or the given `load`; `updated_at` adds to that column."""
    config = SourceConfig.model_validate(
        {
            "name": "unit",
            "owners": {"primary": "data-eng@example.com", "team": "data-eng"},
            "schedule": "@daily",
            "start_date": "2026-11-01T00:00:00Z",
            "kind": "sql",
            "conn_id": "unused",
            "entities": [
                {
                    "name": "orders",
                    "locator": {"kind": "sql", "table": "orders"},
                    "primary_key": ["order_id"],
                    "columns": [
                        {"name": "order_id", "type": "bigint", "nullable": False},
                        {"name": "updated_at", "type": "timestamp", "nullable": False, **(updated_at or {})},
                    ],
                    "load": load or {"mode": mode, "cursor_column": "updated_at"},
                }
            ],
        }
    )
    return plan_entity(config, config.entities[0])


def run_of(day: int, run_id: str | None = None) -> RunInfo:
    end = T0 + timedelta(days=day)
    return RunInfo(
        "ingest_unit", run_id or f"scheduled__{end.isoformat()}", "scheduled", end - timedelta(days=1), end, end
    )


def rows(*minutes: int, first_id: int = 1) -> pa.RecordBatch:
    """Orders with ids from `first_id`, updated `minutes` after T0."""
    ids = list(range(first_id, first_id + len(minutes)))
    return pa.RecordBatch.from_arrays(
        [pa.array(ids, pa.int64()), pa.array([T0 + timedelta(minutes=m) for m in minutes], SCHEMA.field(1).type)],
        schema=SCHEMA,
    )


class TableSource(Source):
    """A source whose table is a list of batches: an incremental window from the watermark to the newest row, read
    whole (the driver leaves out what it must). Records what the driver asked of it."""

    kind = "sql"

    def __init__(self, plan: EntityPlan, run: RunInfo, table: list[pa.RecordBatch]) -> None:
        super().__init__(plan, run)
        self.table = table
        self.prepared = False
        self.read_batches = 0

    def check_config(self) -> None:
        return None

    def prepare(self, store: ControlStore) -> SourceRead:
        self.prepared = True
        cursor = Cursor.for_rows(
            self.plan.entity.load, self.stored_watermark(store), full_refresh=self.run.full_refresh, where=self.where
        )
        highest = max((b.column("updated_at").to_pylist()[-1] for b in self.table if b.num_rows), default=None)
        window = cursor.incremental_window(max_cursor=highest, now=NOW)
        self._read = SourceRead(cursor, window, tuple(self.plan.entity.columns))
        return self._read

    def batches(self) -> Generator[SourceBatch, None, None]:
        window = self.read.window
        assert window is not None
        for batch in self.table:
            self.read_batches += 1
            values = batch.column("updated_at").to_pylist()
            keep = [
                (window.low is None or v >= window.low) and (window.high is None or v <= window.high) for v in values
            ]
            yield SourceBatch(batch.filter(pa.array(keep)))

    def facts(self, new_watermark: Any, *, left_out: int) -> LandingFacts:
        move = self.read.cursor.move(new_watermark)
        return LandingFacts(
            watermark_from=move.start,
            watermark_to=move.end,
            watermark_type=move.value_type,
            left_out_at_boundary=left_out,
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ControlStore]:
    store = ControlStore(create_engine(f"sqlite:///{tmp_path / 'control.db'}")).ensure_schema()
    yield store
    store.engine.dispose()


@pytest.fixture
def lakes() -> MemoryLakes:
    return MemoryLakes()


@pytest.fixture
def storage(store: ControlStore, lakes: MemoryLakes) -> StageStorage:
    return StageStorage(control_store=lambda: nullcontext(store), lake=lakes.lake)
