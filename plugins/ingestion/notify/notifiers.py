"""Notifiers the builder attaches to each entity's tasks. Light at parse time (names only); everything else,
connections included, is resolved when an alert is sent.

Channels are Airflow connection ids (`alerts.channels`); the connection type picks the transport: `slackwebhook` goes
through the Slack provider's SlackWebhookNotifier, anything else is a Teams Workflows webhook posted with HttpHook
(the connection's host, schema and port, and the full webhook URL in its password, which Airflow masks). A post
that fails is logged and never fails the pipeline (BaseNotifier catches it; each channel is tried on its own).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from ingestion.notify.alert import Alert

log = logging.getLogger(__name__)

SLACK_CONN_TYPES = frozenset({"slackwebhook", "slack_incoming_webhook"})


def post_teams(conn_id: str, message: dict[str, Any]) -> None:
    from airflow.providers.http.hooks.http import HttpHook
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    url = urlsplit(conn.password or "")
    endpoint = url.path + (f"?{url.query}" if url.query else "")
    if not endpoint:
        raise ValueError(f"connection {conn_id!r}: put the Workflows webhook URL in its password")
    HttpHook(method="POST", http_conn_id=conn_id).run(
        endpoint=endpoint, json=message, headers={"Content-Type": "application/json"}, extra_options={"timeout": 30}
    )


def post_slack(conn_id: str, text: str, blocks: list[dict[str, Any]], context: Any) -> None:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=text, blocks=blocks).notify(context)


def send(alert: Alert, channels: tuple[str, ...], context: Any) -> dict[str, str]:
    """Post the alert to every channel; returns channel -> "sent" or the error (scrubbed), never raises."""
    from airflow.sdk import BaseHook

    from ingestion.notify.alert import short_error
    from ingestion.notify.payloads import slack_message, teams_message

    outcome: dict[str, str] = {}
    for conn_id in channels:
        try:
            if BaseHook.get_connection(conn_id).conn_type in SLACK_CONN_TYPES:
                text, blocks = slack_message(alert)
                post_slack(conn_id, text, blocks, context)
            else:
                post_teams(conn_id, teams_message(alert))
            outcome[conn_id] = "sent"
        except Exception as error:  # noqa: BLE001 - an alert that cannot be posted must not fail the pipeline
            outcome[conn_id] = short_error(error)
            log.error("alert %s to %s not sent: %s", alert.kind, conn_id, outcome[conn_id])
    return outcome


class EntityFailureNotifier(BaseNotifier):
    """A task of an entity failed after its retries (on_failure_callback), or, if configured, is being retried."""

    template_fields = ()

    def __init__(self, *, source_name: str, entity_name: str, kind: str = "failure") -> None:
        super().__init__()
        self.source_name = source_name
        self.entity_name = entity_name
        self.kind = kind

    def notify(self, context: Any) -> None:
        from ingestion.factory import load_entity_plan
        from ingestion.notify.alert import alert_from_context

        plan = load_entity_plan(self.source_name, self.entity_name)
        if not plan.alerts.channels:
            log.info("%s.%s has no alert channels: nothing sent", plan.source, plan.entity.name)
            return
        ti = context.get("ti")
        stage = str(getattr(ti, "task_id", "")).rsplit(".", 1)[-1] or "a stage"
        verb = "is being retried" if self.kind == "retry" else "failed"
        alert = alert_from_context(
            context,
            plan,
            kind=self.kind,
            severity=plan.alerts.severity.value,
            title=f"{plan.source}.{plan.entity.name}: {stage} {verb}",
        )
        send(alert, plan.alerts.channels, context)
