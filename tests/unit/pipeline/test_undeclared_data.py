"""Data no column declares (a REST record's extra column, a column schema evolution added) has no PII classification:
by default it lands in the sensitive container only, never in the general zone (nor, so, in Kafka); `drop` lands it
nowhere; only an explicit `undeclared: general` puts it in the general zone."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.config.models import Column, SourceConfig
from ingestion.extract.arrow_types import arrow_schema
from ingestion.pipeline.extract_driver import extract_land
from ingestion.pipeline.landed_run import landed_columns, read_run_manifest
from ingestion.pipeline.run_info import RunInfo
from ingestion.pipeline.sources.base import SourceRead
from ingestion.pipeline.storage import StageStorage
from ingestion.planner import EntityPlan, plan_entity
from ingestion.state.store import ControlStore
from tests.unit.pipeline.conftest import TableSource, rows, run_of
from tests.unit.pipeline.memory_lake import MemoryLakes

CANARY = "undeclared.canary@example.org"
DECLARED = [
    {"name": "order_id", "type": "bigint", "nullable": False},
    {"name": "updated_at", "type": "timestamp", "nullable": False},
]


def _config(kind: str, undeclared: str | None) -> SourceConfig:
    locator: dict[str, Any] = {"kind": "sql", "table": "orders"}
    if kind == "http":
        locator = {"kind": "http", "endpoint": "/v1/orders", "incremental_param": "since"}
    entity: dict[str, Any] = {
        "name": "orders",
        "locator": locator,
        "primary_key": ["order_id"],
        "columns": DECLARED,
        "load": {"mode": "incremental", "cursor_column": "updated_at"},
        "schema_drift": "evolve" if kind == "sql" else "fail",
    }
    if undeclared is not None:
        entity["undeclared"] = undeclared
    return SourceConfig.model_validate(
        {
            "name": "unit",
            "owners": {"primary": "data-eng@example.com", "team": "data-eng"},
            "start_date": "2026-11-01T00:00:00Z",
            "kind": kind,
            "conn_id": "unused",
            "entities": [entity],
        }
    )


def _plan(kind: str, undeclared: str | None) -> EntityPlan:
    config = _config(kind, undeclared)
    return plan_entity(config, config.entities[0])


class UndeclaredSource(TableSource):
    """Rows with one column the config does not declare: `_extra` (REST) or `contact` (added at the source and
    landed by schema evolution)."""

    def __init__(self, plan: EntityPlan, run: RunInfo, name: str) -> None:
        base = rows(1, 2)
        values = pa.array([f'{{"email": "{CANARY}"}}', None], pa.string())
        batch = pa.RecordBatch.from_arrays(
            [*base.columns, values], schema=base.schema.append(pa.field(name, pa.string()))
        )
        super().__init__(plan, run, [batch])
        self.extra = Column(name=name, type="json" if name == "_extra" else "string", description="undeclared")

    def prepare(self, store: ControlStore) -> SourceRead:
        read = super().prepare(store)
        self._read = SourceRead(read.cursor, read.window, (*self.plan.entity.columns, self.extra))
        return self._read


def _land(kind: str, undeclared: str | None, storage: StageStorage) -> tuple[EntityPlan, Any]:
    plan = _plan(kind, undeclared)
    source = UndeclaredSource(plan, run_of(1), "_extra" if kind == "http" else "contact")
    return plan, extract_land(plan, run_of(1), source=source, storage=storage)


def _texts(lake: Any, prefix: str) -> str:
    """Every file under `prefix` as text: Parquet decoded (its pages may be compressed), the rest as it is."""
    texts = []
    for path, blob in lake.stored.items():
        if path.startswith(prefix):
            parquet = path.endswith(".parquet")
            texts.append(str(pq.read_table(pa.BufferReader(blob)).to_pylist()) if parquet else blob.decode())
    assert texts, f"nothing under {prefix}"
    return "\n".join(texts)


def _table(lake: Any, paths: Any) -> pa.Table:
    return pa.concat_tables(pq.read_table(pa.BufferReader(lake.get(path))) for path in paths)


@pytest.mark.parametrize("kind", ["http", "sql"])
def test_undeclared_data_lands_in_the_sensitive_container_only_by_default(
    kind: str, storage: StageStorage, lakes: MemoryLakes
) -> None:
    plan, landed = _land(kind, None, storage)
    name = "_extra" if kind == "http" else "contact"
    landing, sensitive = lakes.lake("landing"), lakes.lake("sensitive")
    general = _table(landing, landed.files)
    assert name not in general.column_names
    assert CANARY not in _texts(landing, "unit/")
    manifest = read_run_manifest(plan, run_of(1), landing)
    assert manifest.facts.sensitive_files
    raw = _table(sensitive, manifest.facts.sensitive_files)
    assert raw.select(["order_id", name]).to_pylist() == [
        {"order_id": 1, name: f'{{"email": "{CANARY}"}}'},
        {"order_id": 2, name: None},
    ]
    from ingestion.pii.masking import entity_general_schema

    # What validate and publish read back is what landed.
    expected = entity_general_schema(plan.entity, landed_columns(plan, manifest))
    assert expected.names == ["order_id", "updated_at"]


@pytest.mark.parametrize("kind", ["http", "sql"])
def test_undeclared_drop_lands_it_nowhere(kind: str, storage: StageStorage, lakes: MemoryLakes) -> None:
    _, landed = _land(kind, "drop", storage)
    assert CANARY not in _texts(lakes.lake("landing"), "unit/")
    assert "unit/" not in str(list(lakes.lake("sensitive").stored))
    assert landed.rows == 2


@pytest.mark.parametrize("kind", ["http", "sql"])
def test_undeclared_general_is_an_explicit_opt_in(kind: str, storage: StageStorage, lakes: MemoryLakes) -> None:
    plan, landed = _land(kind, "general", storage)
    name = "_extra" if kind == "http" else "contact"
    general = _table(lakes.lake("landing"), landed.files)
    assert general.column(name).to_pylist() == [f'{{"email": "{CANARY}"}}', None]
    assert not lakes.lake("sensitive").stored
    from ingestion.pii.masking import entity_general_schema

    assert name in entity_general_schema(plan.entity, (*plan.entity.columns, Column(name=name, type="string"))).names


def test_the_default_is_sensitive() -> None:
    assert _plan("http", None).entity.undeclared == "sensitive"
    assert arrow_schema([Column(name="x", type="json")]).field("x").type == pa.string()


def test_the_runbook_and_the_inventory_flag_an_entity_that_opts_in_to_unmasked_undeclared_data() -> None:
    from ingestion.cli import _inventory_markdown
    from ingestion.config.loader import LoadResult
    from ingestion.planner import plan_source
    from ingestion.runbook import render_runbook

    flagged, quiet = _config("http", "general"), _config("http", None)
    for config, expected in (
        (flagged, "**UNMASKED in the general zone and Kafka (opt-in)**"),
        (quiet, "sensitive only"),
    ):
        plan = plan_source(config)
        assert (
            f"- Data no column declares (REST fields no column takes, columns schema evolution adds): {expected}"
            in (render_runbook(plan))
        )
        inventory = _inventory_markdown(LoadResult(configs={config.name: config}, errors=[]), [plan])
        assert f"| orders | incremental | order_id | - | {expected} |" in inventory
