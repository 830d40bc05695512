"""Notifiers the builder attaches to each entity's tasks. Light at parse time (names only); everything else,
connections included, is resolved when an alert is sent.

Channels are Airflow connection ids: `alerts.channels`, or the route `alerts.routing` gives the alert's severity
(Alerts.channels_for). The connection type picks the transport: `slackwebhook` goes through the Slack provider's
SlackWebhookNotifier, `smtp` is e-mail through the SMTP provider's SmtpNotifier (notify.mail), anything else is a
Teams Workflows webhook posted with HttpHook (the connection's host, schema and port, and the full webhook URL in
its password, which Airflow masks; the URL's `sig` is masked on its own too, and never appears in an error). A post
that fails is logged and never fails the pipeline (BaseNotifier catches it; each channel is tried on its own).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

from ingestion.notify.alert import short_error
from ingestion.notify.errors import AlertPostError
from ingestion.redact import redact, remember_url_secrets

if TYPE_CHECKING:
    from ingestion.notify.alert import Alert
    from ingestion.pipeline.contracts import ValidatedRun

log = logging.getLogger(__name__)

SLACK_CONN_TYPES = frozenset({"slackwebhook", "slack_incoming_webhook"})
EMAIL_CONN_TYPES = frozenset({"smtp"})


def post_teams(conn_id: str, webhook_url: str | None, message: dict[str, Any]) -> None:
    """POST the message through HttpHook's session on `conn_id`, to the path and query of the webhook URL (its
    password). The query's `sig` is the webhook's credential: it is remembered as a secret (so Airflow's masker hides
    it in any log line) and failures are raised without the URL (requests' own messages quote it in full)."""
    from airflow.providers.http.hooks.http import HttpHook
    from requests import RequestException

    remember_url_secrets(webhook_url)
    url = urlsplit(webhook_url or "")
    endpoint = url.path + (f"?{url.query}" if url.query else "")
    if not endpoint:
        raise ValueError(f"connection {conn_id!r}: put the Workflows webhook URL in its password")
    hook = HttpHook(method="POST", http_conn_id=conn_id)
    session = hook.get_conn(headers={"Content-Type": "application/json"})
    try:
        response = session.post(hook.url_from_endpoint(endpoint), json=message, timeout=30)
    except RequestException as error:
        raise AlertPostError(f"Teams webhook {conn_id!r}: {type(error).__name__}: {redact(str(error))}") from None
    if response.status_code >= 400:
        said = redact(response.text[:200])
        raise AlertPostError(f"Teams webhook {conn_id!r} answered {response.status_code}: {said}")


def post_slack(conn_id: str, text: str, blocks: list[dict[str, Any]]) -> None:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    SlackWebhookNotifier(slack_webhook_conn_id=conn_id, text=text, blocks=blocks).notify({})


def post_alert(conn_id: str, alert: Alert) -> None:
    """Post one alert to one channel, by the connection's type; raises when the post fails."""
    from airflow.sdk import BaseHook

    from ingestion.notify.payloads import slack_message, teams_message

    conn = BaseHook.get_connection(conn_id)  # once: its type picks the transport, its password is Teams' URL
    if conn.conn_type in SLACK_CONN_TYPES:
        text, blocks = slack_message(alert)
        post_slack(conn_id, text, blocks)
    elif conn.conn_type in EMAIL_CONN_TYPES:
        from ingestion.notify.mail import post_email

        post_email(conn_id, conn.extra_dejson, alert)
    else:
        post_teams(conn_id, conn.password, teams_message(alert))


def send(alert: Alert, channels: tuple[str, ...], *, critical: bool = False) -> dict[str, str]:
    """Address the alert to who is on call for its team now (notify.oncall; `critical`: raised to critical, the lead
    addressed too); route, de-duplicate and throttle it through the control DB (notify.dispatch), posting what
    passes; with the control DB down, through this machine's alert store, saying so in the post (notify.delivery).
    Returns channel -> outcome; never raises."""
    from ingestion.notify.delivery import deliver
    from ingestion.notify.oncall import addressed, rotations

    alert = addressed(alert, rotations(), critical=critical)
    outcome = deliver(alert, channels, post_alert)
    log.info("alert %s for %s.%s: %s", alert.kind, alert.source, alert.entity, outcome)
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
        from ingestion.notify.alert import alert_from_context
        from ingestion.notify.oncall import data_loss_suspected
        from ingestion.plan_loader import load_entity_plan

        plan = load_entity_plan(self.source_name, self.entity_name)
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
        critical = self.kind == "failure" and data_loss_suspected(context.get("exception"))
        channels = plan.alerts.channels_for("critical" if critical else alert.severity)
        if not channels:
            log.info("%s.%s has no alert channels: nothing sent", plan.source, plan.entity.name)
            return
        send(alert, channels, critical=critical)


def alert_warnings(plan: Any, context: Any, validated: ValidatedRun) -> dict[str, str]:
    """After a validate that passed with `warn` results: one alert naming them (kind zero_rows when the only
    warning is the zero-row policy, else check_failed). Returns the dispatch outcome ({} when nothing to say)."""
    from ingestion.notify.alert import alert_from_context

    failed = validated.failed_warnings
    channels = plan.alerts.channels_for(plan.alerts.severity.value)
    if not failed or not channels:
        return {}
    kind = "zero_rows" if {c.kind for c in failed} == {"zero_rows"} else "check_failed"
    names = ", ".join(c.name for c in failed)
    alert = alert_from_context(
        context,
        plan,
        kind=kind,
        severity=plan.alerts.severity.value,
        title=f"{plan.source}.{plan.entity.name}: {len(failed)} warning check(s) failed: {names}",
        counts={"rows_landed": validated.rows},
    )
    detail = "; ".join(f"{c.name}: {c.detail}" for c in failed)
    return send(replace(alert, error=short_error(detail)), channels)


MIN_LONG_RUN_HISTORY = 3
MIN_LONG_RUN_SECONDS = 60.0  # a 5 s run taking 20 s is noise, not news


def far_longer(seconds: float, history: list[float], factor: float) -> float | None:
    """The median of `history` when `seconds` is more than `factor` times it (and over a minute), else None."""
    import statistics

    if len(history) < MIN_LONG_RUN_HISTORY:
        return None
    median = statistics.median(history)
    return median if seconds > max(median * factor, MIN_LONG_RUN_SECONDS) else None


def alert_long_run(plan: Any, context: Any, seconds: float, history: list[float]) -> dict[str, str]:
    """After a commit: one alert when the run took far longer than the entity's recent runs."""
    from ingestion.notify.alert import alert_from_context

    median = far_longer(seconds, history, plan.alerts.long_run_factor)
    severity = "medium" if plan.alerts.severity.value != "low" else "low"
    channels = plan.alerts.channels_for(severity)
    if median is None or not channels:
        return {}
    alert = alert_from_context(
        context,
        plan,
        kind="long_run",
        severity=severity,
        title=f"{plan.source}.{plan.entity.name}: the run took {seconds / 60:.1f} min, "
        f"{seconds / median:.1f}x the median of its last {len(history)} runs",
        counts={"seconds": round(seconds, 1), "median_seconds": round(median, 1)},
    )
    return send(alert, channels)
