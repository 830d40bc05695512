"""The Ingestion view (plugins/ingestion_ui.py) in a real api-server (`make airflow`'s components on the stack's
Postgres): behind Airflow's auth, listed in the UI's navigation, and showing what the control database holds, the
same as `scripts/ingest status`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import update

from ingestion.state.engine import control_engine
from ingestion.state.store import ControlStore, RunRecord
from ingestion.state.tables import entity_runs
from tests.integration.support import (
    COMPONENT_SETTINGS,
    ORDERS_COLUMNS,
    REPO,
    airflow_env,
    free_port,
    sql_source_config,
    start_airflow,
)


def _entity(name: str) -> dict[str, Any]:
    locator = {"kind": "sql", "schema": "public", "table": name}
    return {"name": name, "locator": locator, "primary_key": ["order_id"], "columns": ORDERS_COLUMNS}


def _seed(store: ControlStore, source: str) -> None:
    """`good`: three committed daily runs moving its watermark. `broken`: one committed run, then a run whose unique
    check (severity error) failed, so it never committed, and the failure alert it raised."""
    now = datetime.now(UTC)
    for day in range(3):
        run_id = f"scheduled__2026-11-0{day + 1}"
        store.record_checks(source, "good", run_id, 1, [_check("row_count", passed=True)])
        record = RunRecord(
            source=source,
            entity="good",
            run_id=run_id,
            dag_id=f"ingest_{source}",
            load_mode="incremental",
            window_start=f"2026-11-0{day}T00:00:00+00:00" if day else None,
            window_end=f"2026-11-0{day + 1}T00:00:00+00:00",
            rows_extracted=100 * (day + 1),
            rows_landed=100 * (day + 1),
            rows_published=100 * (day + 1),
            bytes_landed=4096 * (day + 1),
            seconds_extract_land=1.5 + day,
            seconds_validate=0.25,
            seconds_publish=0.75,
        )
        previous = store.get_watermark(source, "good")
        store.commit_run(
            record,
            new_watermark=f"2026-11-0{day + 1}T00:00:00+00:00",
            expected_watermark=previous.value if previous else None,
        )
        with store.engine.begin() as conn:
            conn.execute(
                update(entity_runs)
                .where(entity_runs.c.source == source, entity_runs.c.run_id == run_id)
                .values(committed_at=now - timedelta(hours=3 - day))
            )
    store.commit_run(
        RunRecord(
            source=source, entity="broken", run_id="scheduled__2026-11-01", dag_id=f"ingest_{source}", load_mode="full"
        ),
        move_watermark=False,
    )
    store.record_checks(source, "broken", "scheduled__2026-11-02", 1, [_check("unique(order_id)", passed=False)])
    from ingestion.state import alerts

    alerts.add(
        store.engine,
        {
            "dedup_key": f"failure|{source}|broken|validate",
            "kind": "failure",
            "severity": "high",
            "source": source,
            "entity": "broken",
            "channel": "teams_alerts",
            "status": "sent",
            "reason": None,
            "alert": {},
            "created_at": datetime.now(UTC),  # after broken's commit: open
        },
    )


def _check(name: str, *, passed: bool) -> dict[str, Any]:
    return {
        "name": name,
        "kind": name.split("(")[0],
        "passed": passed,
        "severity": "error",
        "detail": "ok" if passed else "2 duplicate key(s) in order_id",
    }


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ui")
    source = f"ui{uuid.uuid4().hex[:8]}"
    configs = tmp / "source_configs"
    shutil.copytree(REPO / "include" / "source_configs", configs)
    config = sql_source_config(source, [_entity("good"), _entity("broken")])
    config["owners"]["team"] = "crm-data"  # a team with a rotation in _oncall.json
    (configs / f"{source}.json").write_text(json.dumps(config))
    engine = control_engine(allow_embedded=False)
    _seed(ControlStore(engine), source)
    engine.dispose()
    home = tmp / "airflow"
    port = free_port()
    env = airflow_env(home, configs, **COMPONENT_SETTINGS)
    proc, _ = start_airflow(env, port)
    try:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        base = f"http://127.0.0.1:{port}"
        token = requests.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        ).json()["access_token"]
        yield {"base": base, "token": token, "source": source, "configs": configs, "env": env}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


def _get(airflow: dict[str, Any], path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{airflow['base']}{path}", timeout=30, **kwargs)


def _bearer(airflow: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {airflow['token']}"}


@pytest.mark.parametrize("path", ["/ingestion/", "/ingestion/api/entities", "/ingestion/entities/crm/orders"])
def test_an_unauthenticated_request_is_refused(airflow: dict[str, Any], path: str) -> None:
    refused = _get(airflow, path)
    assert refused.status_code == 401, refused.text
    assert "ingestion" not in refused.text.lower()
    forged = _get(airflow, path, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code in (401, 403), forged.text
    assert _get(airflow, path, headers=_bearer(airflow)).status_code == 200


def test_the_ui_navigation_lists_the_view(airflow: dict[str, Any]) -> None:
    plugins = _get(airflow, "/api/v2/plugins", headers=_bearer(airflow)).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "ingestion_ui")
    view = ours["external_views"][0]
    assert (view["name"], view["href"], view["url_route"], view["nav_top_level"]) == (
        "Ingestion",
        "/ingestion/",
        "ingestion",
        True,
    )
    assert [app["url_prefix"] for app in ours["fastapi_apps"]] == ["/ingestion"]


def test_the_overview_json_is_what_ingest_status_says(airflow: dict[str, Any]) -> None:
    source = airflow["source"]
    data = _get(airflow, "/ingestion/api/entities", headers=_bearer(airflow)).json()
    mine = {e["entity"]: e for e in data["entities"] if e["source"] == source}
    assert mine["good"]["state"] == "ok"
    assert (mine["good"]["rows"], mine["good"]["watermark"]) == (300, "2026-11-03T00:00:00+00:00")
    assert mine["broken"]["state"] == "failing"
    assert mine["broken"]["failing_checks"] == ["unique(order_id) [error]"]
    assert mine["broken"]["open_alerts"] == 1
    assert mine["good"]["team"] == "crm-data"
    assert mine["good"]["on_call"]
    assert {(e["source"], e["entity"]) for e in data["entities"]} >= {
        ("crm", "customers"),
        ("crm", "orders"),
        ("orders_api", "orders"),
    }
    cli = subprocess.run(
        [sys.executable, "-m", "ingestion", "--config-dir", str(airflow["configs"]), "status", source, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**airflow["env"], "PYTHONPATH": str(REPO / "plugins")},
        check=False,
    )
    assert cli.returncode == 1, cli.stderr  # `broken` needs attention
    volatile = {"age", "age_seconds", "dag_id", "page"}
    from_cli = [{k: v for k, v in s.items() if k not in volatile} for s in json.loads(cli.stdout)]
    from_ui = [{k: v for k, v in e.items() if k not in volatile} for e in data["entities"] if e["source"] == source]
    assert from_ui == from_cli

    only_failing = _get(airflow, "/ingestion/api/entities?state=failing", headers=_bearer(airflow)).json()
    assert {e["state"] for e in only_failing["entities"]} == {"failing"}
    assert (source, "broken") in {(e["source"], e["entity"]) for e in only_failing["entities"]}


def test_the_entity_json_has_runs_checks_and_watermark_history(airflow: dict[str, Any]) -> None:
    source = airflow["source"]
    data = _get(airflow, f"/ingestion/api/entities/{source}/good", headers=_bearer(airflow)).json()
    assert [r["rows_landed"] for r in data["runs"]] == [300, 200, 100]
    assert data["runs"][0]["seconds_total"] == 4.5
    assert next((w["old_value"], w["new_value"]) for w in data["watermark_changes"]) == (
        "2026-11-02T00:00:00+00:00",
        "2026-11-03T00:00:00+00:00",
    )
    assert data["watermark_changes"][0]["changed_by"] == f"airflow:ingest_{source}"
    assert data["topic"] == f"ingest.{source}.good"
    assert data["landing_path"].startswith(f"landing/{source}/good/date=")
    broken = _get(airflow, f"/ingestion/api/entities/{source}/broken", headers=_bearer(airflow)).json()
    assert broken["checks_by_run"]["scheduled__2026-11-02"][0]["passed"] is False
    missing = _get(airflow, f"/ingestion/api/entities/{source}/nope", headers=_bearer(airflow))
    assert missing.status_code == 404


def test_the_pages_render_with_the_ui_session_cookie(airflow: dict[str, Any]) -> None:
    source = airflow["source"]
    cookies = {"_token": airflow["token"]}  # what the UI's login sets, and what its iframe sends
    page = _get(airflow, "/ingestion/", cookies=cookies)
    assert page.status_code == 200
    assert f'data-source="{source}" data-entity="broken" data-state="failing"' in page.text
    assert "unique(order_id) [error]" in page.text
    assert f'href="/ingestion/entities/{source}/good"' in page.text
    entity = _get(airflow, f"/ingestion/entities/{source}/good", cookies=cookies)
    assert entity.status_code == 200
    assert '<svg class="chart"' in entity.text
    assert entity.text.count('<rect class="rows"') == 3
    assert "2026-11-03T00:00:00+00:00" in entity.text
    assert f'href="/dags/ingest_{source}"' in entity.text
