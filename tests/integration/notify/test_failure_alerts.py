"""A failing task of a generated DAG posts one Teams card and one Slack message to the webhook sink, with the fields
the person on call needs and no secret, and mails them where its severity is routed to e-mail; a webhook that answers
500 is logged and does not change the run's outcome.

The failure is real: the entity's source table does not exist, so extract_land fails (retries 0)."""

from __future__ import annotations

import html
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.adaptive_card import card_errors
from tests.integration.support import dags_test, sql_source_config, sqlite_airflow_env, write_configs

COLUMNS = [{"name": "id", "type": "bigint", "nullable": False}, {"name": "updated_at", "type": "timestamp"}]


def _config(name: str, **alerts: Any) -> dict[str, Any]:
    entity = {
        "name": "orders",
        "locator": {"kind": "sql", "schema": "public", "table": f"{name}_missing"},
        "primary_key": ["id"],
        "columns": COLUMNS,
        "load": {"mode": "full"},
    }
    return sql_source_config(
        name,
        [entity],
        owners={"primary": "ana.lima@example.com", "secondary": "bo.chen@example.com", "team": "crm-data"},
        alerts={"severity": "critical", "channels": ["teams_alerts", "slack_alerts"], **alerts},
        retries={"count": 1 if alerts.get("on_retry") else 0, "delay_seconds": 1},
    )


def _posts(sink: str, channel: str, name: str) -> list[dict[str, Any]]:
    posts = httpx.get(f"{sink}/_posts", params={"channel": channel}, timeout=10).json()
    return [p for p in posts if name in json.dumps(p["body"])]


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return sqlite_airflow_env(tmp_path_factory.mktemp("airflow"), write_configs(tmp_path_factory.mktemp("configs")))


def test_a_failed_task_posts_one_teams_card_and_one_slack_message(
    airflow: dict[str, str], webhook_sink_url: str
) -> None:
    name = f"a{uuid.uuid4().hex[:8]}"
    write_configs(Path(airflow["INGEST_CONFIG_DIR"]), _config(name))
    dags_test(airflow, f"ingest_{name}", "2026-11-02", succeed=False)

    (teams,) = _posts(webhook_sink_url, "teams", name)
    (slack,) = _posts(webhook_sink_url, "slack", name)

    message = teams["body"]
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card_errors(card) == []  # Microsoft's Adaptive Card JSON schema, every element
    assert card["body"][0]["text"] == f"[CRITICAL] {name}.orders: extract_land failed"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Severity"] == "CRITICAL"
    assert facts["Source"] == name
    assert facts["Entity"] == "orders"
    assert facts["DAG"] == f"ingest_{name}"
    assert facts["Task"] == "orders.extract_land"
    assert facts["Run"].startswith("manual__")
    assert facts["Try"] == "1"
    assert facts["Owner"] == "ana.lima@example.com"
    assert facts["Secondary owner"] == "bo.chen@example.com"
    assert f"{name}_missing" in card["body"][2]["text"]  # the error in short: the missing relation
    urls = {a["title"]: a["url"] for a in card["actions"]}
    assert f"/dags/ingest_{name}/runs/" in urls["Open the run"]
    assert urls["Open the run"].endswith("/tasks/orders.extract_land")
    assert urls["Runbook"].endswith(f"/dags/ingest_{name}/docs")

    assert slack["body"]["text"].endswith(f"[CRITICAL] {name}.orders: extract_land failed")
    slack_text = json.dumps(slack["body"]["blocks"])
    for value in ("ana.lima@example.com", "bo.chen@example.com", "orders.extract_land", f"{name}_missing"):
        assert value in slack_text

    # No connection password or token in either post. The local stack's database passwords equal their user names
    # (`ingest`, also in every DAG id), so only the real secrets count: tokens, keys, webhook URLs (12+ chars).
    secrets = [
        json.loads(v).get("password")
        for k, v in os.environ.items()
        if k.startswith("AIRFLOW_CONN_") and v.startswith("{")
    ]
    posted = json.dumps(teams["body"]) + json.dumps(slack["body"])
    assert len([s for s in secrets if s and len(s) >= 12]) >= 5
    leaked = [s for s in secrets if s and len(s) >= 12 and s in posted]
    assert not leaked


def test_a_failure_is_mailed_to_its_owner_on_the_channels_routed_for_its_severity(
    airflow: dict[str, str], webhook_sink_url: str, smtp_sink_url: str
) -> None:
    name = f"a{uuid.uuid4().hex[:8]}"
    routing = {"critical": ["teams_alerts", "smtp_alerts"], "medium": ["slack_alerts"]}
    write_configs(Path(airflow["INGEST_CONFIG_DIR"]), _config(name, routing=routing))
    dags_test(airflow, f"ingest_{name}", "2026-11-02", succeed=False)

    (teams,) = _posts(webhook_sink_url, "teams", name)
    assert _posts(webhook_sink_url, "slack", name) == []  # in `channels`, but not routed for critical
    (mail,) = httpx.get(f"{smtp_sink_url}/_messages", params={"contains": name}, timeout=10).json()
    assert mail["rcpt_to"] == ["ana.lima@example.com"]
    card = teams["body"]["attachments"][0]["content"]
    assert mail["subject"] == card["body"][0]["text"] == f"[CRITICAL] {name}.orders: extract_land failed"
    for fact in card["body"][1]["facts"]:  # the card's facts, in both parts of the e-mail
        assert f"{fact['title']}:" in mail["text"]
        assert f"<td>{html.escape(fact['value'])}</td>" in mail["html"]
    for action in card["actions"]:
        assert action["url"] in mail["text"]
    assert f"{name}_missing" in mail["text"]


def test_a_webhook_that_fails_does_not_change_the_outcome(airflow: dict[str, str], webhook_sink_url: str) -> None:
    name = f"a{uuid.uuid4().hex[:8]}"
    write_configs(Path(airflow["INGEST_CONFIG_DIR"]), _config(name))
    httpx.post(f"{webhook_sink_url}/_control/faults", json={"status": 500, "count": 1}, timeout=10)
    output = dags_test(airflow, f"ingest_{name}", "2026-11-02", succeed=False)
    assert "not sent" in output  # the Teams post failed, logged
    assert len(_posts(webhook_sink_url, "slack", name)) == 1  # the other channel still got it
    assert _posts(webhook_sink_url, "teams", name) == []


def test_on_retry_alerts_each_retry_and_then_the_failure(airflow: dict[str, str], webhook_sink_url: str) -> None:
    name = f"a{uuid.uuid4().hex[:8]}"
    # A failure worth retrying: the source database refuses the connection (a missing table fails at once).
    refused = {**json.loads(airflow["AIRFLOW_CONN_CRM_POSTGRES"]), "port": 1}
    write_configs(Path(airflow["INGEST_CONFIG_DIR"]), {**_config(name, on_retry=True), "conn_id": "crm_refused"})
    env = {**airflow, "AIRFLOW_CONN_CRM_REFUSED": json.dumps(refused)}
    dags_test(env, f"ingest_{name}", "2026-11-02", succeed=False)
    titles = [
        p["body"]["attachments"][0]["content"]["body"][0]["text"] for p in _posts(webhook_sink_url, "teams", name)
    ]
    assert titles == [
        f"[CRITICAL] {name}.orders: extract_land is being retried",
        f"[CRITICAL] {name}.orders: extract_land failed",
    ]


def test_a_run_far_longer_than_its_history_alerts(webhook_sink_url: str) -> None:
    from types import SimpleNamespace

    from ingestion.config.models import SourceConfig
    from ingestion.notify.notifiers import alert_long_run
    from ingestion.planner import plan_entity
    from ingestion.state.engine import control_engine
    from ingestion.state.store import ControlStore, RunRecord

    name = f"a{uuid.uuid4().hex[:8]}"
    config = SourceConfig.model_validate(_config(name))
    plan = plan_entity(config, config.entities[0])
    store = ControlStore(control_engine()).ensure_schema()
    try:
        for i, seconds in enumerate((30.0, 40.0, 35.0)):
            record = RunRecord(
                source=name, entity="orders", run_id=f"r{i}", dag_id=f"ingest_{name}", load_mode="full",
                seconds_extract_land=seconds, seconds_validate=5.0, seconds_publish=5.0,
            )  # fmt: skip
            store.commit_run(record, move_watermark=False)
        history = store.recent_durations(name, "orders", before_run="r9")
    finally:
        store.engine.dispose()
    assert history == [45.0, 50.0, 40.0]
    context = {
        "ti": SimpleNamespace(task_id="orders.commit", try_number=1),
        "dag_run": SimpleNamespace(dag_id=f"ingest_{name}", run_id="r9"),
    }
    assert alert_long_run(plan, context, 100.0, history) == {}  # 2.2x: within the factor of 3
    assert alert_long_run(plan, context, 200.0, history) == {"teams_alerts": "sent", "slack_alerts": "sent"}
    (teams,) = _posts(webhook_sink_url, "teams", name)
    title = teams["body"]["attachments"][0]["content"]["body"][0]["text"]
    assert title == f"[MEDIUM] {name}.orders: the run took 3.3 min, 4.4x the median of its last 3 runs"
