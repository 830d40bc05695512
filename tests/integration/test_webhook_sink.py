"""The webhook sink records Teams and Slack posts made through the providers' hooks, for alert tests."""

from __future__ import annotations

import json
import os

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook


def test_posts_are_recorded_and_read_back(webhook_sink_url: str) -> None:
    requests.delete(f"{webhook_sink_url}/_posts", timeout=5).raise_for_status()

    SlackWebhookHook(slack_webhook_conn_id="slack_alerts").send_text("pipeline ingest_crm failed")
    teams_url = json.loads(os.environ["AIRFLOW_CONN_TEAMS_ALERTS"])["password"]
    card = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive"}]}
    response = HttpHook(method="POST", http_conn_id="teams_alerts").run(
        endpoint="/hooks/teams", json=card, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202
    assert teams_url.endswith("/hooks/teams")

    slack = requests.get(f"{webhook_sink_url}/_posts", params={"channel": "slack"}, timeout=5).json()
    teams = requests.get(f"{webhook_sink_url}/_posts", params={"channel": "teams"}, timeout=5).json()
    assert [p["body"]["text"] for p in slack] == ["pipeline ingest_crm failed"]
    assert teams[0]["body"] == card


def test_sink_can_be_told_to_fail(webhook_sink_url: str) -> None:
    requests.post(f"{webhook_sink_url}/_control/faults", json={"status": 500, "count": 1}, timeout=5)
    first = requests.post(f"{webhook_sink_url}/hooks/teams", json={"n": 1}, timeout=5)
    second = requests.post(f"{webhook_sink_url}/hooks/teams", json={"n": 2}, timeout=5)
    assert (first.status_code, second.status_code) == (500, 202)
