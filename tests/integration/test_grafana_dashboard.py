"""The Grafana dashboard's SQL runs on the real control database (Postgres), with Grafana's macros expanded the way
Grafana expands them, and returns the rows a run leaves behind. Grafana itself runs only in docker-compose."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import text

from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore, RunRecord
from tests.integration.support import REPO

DASHBOARD = REPO / "stack" / "grafana" / "dashboards" / "ingestion.json"
PANELS = [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["datasource"]["uid"] == "control-db"]


def _expand_macros(sql: str) -> str:
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 BETWEEN now() - interval '7 days' AND now() + interval '1 day'", sql)
    return re.sub(r"\$__timeGroupAlias\((\w+), '1h'\)", r"date_trunc('hour', \1) AS time", sql)


@pytest.fixture(scope="module")
def source() -> str:
    name = f"g{uuid.uuid4().hex[:8]}"
    store = ControlStore(control_engine()).ensure_schema()
    try:
        store.commit_run(
            RunRecord(source=name, entity="orders", run_id="r1", dag_id=f"ingest_{name}", load_mode="full",
                      rows_landed=85, bytes_landed=5544, seconds_extract_land=1.5),
            move_watermark=False,
        )  # fmt: skip
        failed = {"name": "unique(id)", "kind": "unique", "passed": False, "severity": "error", "detail": "2 dup"}
        store.record_checks(name, "orders", "r1", 1, [failed])
    finally:
        store.engine.dispose()
    return name


@pytest.mark.parametrize("panel", PANELS, ids=[p["title"] for p in PANELS])
def test_each_panel_query_runs_and_sees_the_run(panel: dict, source: str) -> None:
    sql = _expand_macros(panel["targets"][0]["rawSql"])
    assert "$__" not in sql
    engine = control_engine()
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()
    if "ingest_alert" in sql:
        return  # alerts depend on other tests; the query running is the check here
    mine = [r for r in rows if source in json.dumps(r, default=str)]
    assert mine, f"{panel['title']}: no row of {source} in {rows[:3]}"
