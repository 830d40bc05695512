"""Alerts reach the engineer on call: the production failure callback (EntityFailureNotifier, as Airflow calls it)
with a rotation in the config folder's `_oncall.json`, against the control database, the webhook sink and the SMTP
sink. An ordinary failure names and mails the engineer on call at that moment; a failure where data loss is suspected
(a watermark conflict) is raised to critical and also reaches the team lead, at once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from ingestion.config.oncall import WEEKDAYS, Rotation, on_call
from ingestion.notify.notifiers import EntityFailureNotifier
from ingestion.state.errors import WatermarkConflictError
from tests.integration.support import sql_source_config, write_configs

MEMBERS = ["ana.lima@example.com", "bo.chen@example.com", "cai.wu@example.com"]
LEAD = "lena.berg@example.com"


@pytest.fixture
def team(
    tmp_path: Path, stack_env: dict[str, str], teams_channel: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A source of a team of its own, with a rotation whose next hand-over is days away (so who is on call cannot
    change during the test), alerting to a Teams channel and an e-mail channel of the test's own."""
    name = f"oc{uuid.uuid4().hex[:8]}"
    mail_channel = f"smtp_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{mail_channel.upper()}", stack_env["AIRFLOW_CONN_SMTP_ALERTS"])
    today = datetime.now(UTC).date()
    rotation = {
        "lead": LEAD,
        "members": MEMBERS,
        "handover": {"weekday": WEEKDAYS[(today.weekday() + 3) % 7], "time": "12:00"},
        "start": (today - timedelta(days=29)).isoformat(),
    }
    entity = {
        "name": "orders",
        "locator": {"kind": "sql", "schema": "public", "table": f"{name}_missing"},
        "primary_key": ["id"],
        "columns": [{"name": "id", "type": "bigint", "nullable": False}],
        "load": {"mode": "full"},
    }
    config = sql_source_config(
        name,
        [entity],
        owners={"primary": "owner@example.com", "secondary": "deputy@example.com", "team": name},
        alerts={"severity": "high", "channels": [teams_channel, mail_channel]},
    )
    folder = write_configs(tmp_path / "configs", config)
    (folder / "_oncall.json").write_text(json.dumps({"teams": {name: rotation}}))
    monkeypatch.setenv("INGEST_CONFIG_DIR", str(folder))
    return {"name": name, "rotation": Rotation.model_validate(rotation), "teams": teams_channel, "mail": mail_channel}


def _fail(source: str, error: BaseException) -> None:
    """Call the failure callback as Airflow does after the task's last try."""
    ti = SimpleNamespace(dag_id=f"ingest_{source}", task_id="orders.commit", try_number=1)
    dag_run = SimpleNamespace(dag_id=f"ingest_{source}", run_id=f"manual__{date.today()}")
    EntityFailureNotifier(source_name=source, entity_name="orders").notify(
        {"ti": ti, "dag_run": dag_run, "exception": error}
    )


def _card(sink: str, channel: str) -> dict[str, Any]:
    (post,) = httpx.get(f"{sink}/_posts", params={"channel": channel}, timeout=10).json()
    return dict(post["body"]["attachments"][0]["content"])


def _mail(sink: str, marker: str) -> dict[str, Any]:
    (mail,) = httpx.get(f"{sink}/_messages", params={"contains": marker}, timeout=10).json()
    return dict(mail)


def test_a_failure_names_and_mails_the_engineer_on_call_at_that_moment(
    team: dict[str, Any], webhook_sink_url: str, smtp_sink_url: str
) -> None:
    duty = on_call(team["name"], team["rotation"], datetime.now(UTC))
    _fail(team["name"], RuntimeError("relation does not exist"))

    card = _card(webhook_sink_url, team["teams"])
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert (facts["Owner"], facts["Secondary owner"]) == (duty.primary, duty.secondary)
    assert "Lead" not in facts
    assert card["body"][0]["text"] == f"[HIGH] {team['name']}.orders: commit failed"
    mail = _mail(smtp_sink_url, team["name"])
    assert mail["rcpt_to"] == [duty.primary]  # not the config's owner@example.com
    assert duty.primary in MEMBERS


def test_a_suspected_data_loss_is_critical_and_reaches_the_lead_at_once(
    team: dict[str, Any], webhook_sink_url: str, smtp_sink_url: str
) -> None:
    duty = on_call(team["name"], team["rotation"], datetime.now(UTC))
    _fail(team["name"], WatermarkConflictError("the watermark changed between the run's read and its commit"))

    card = _card(webhook_sink_url, team["teams"])
    title = f"[CRITICAL] {team['name']}.orders: commit failed (data loss suspected)"
    assert card["body"][0]["text"] == title
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert (facts["Severity"], facts["Owner"], facts["Lead"]) == ("CRITICAL", duty.primary, LEAD)
    mail = _mail(smtp_sink_url, team["name"])
    assert mail["rcpt_to"] == [duty.primary, LEAD]
    assert mail["subject"] == title
    assert "WatermarkConflictError" in mail["text"]
