"""The bodies posted to Teams and Slack for an alert. Pure.

Teams: a Workflows webhook ("When a Teams webhook request is received") takes a `message` whose attachment is an
Adaptive Card; the card uses schema 1.4 elements only (TextBlock, FactSet, Action.OpenUrl), which every Teams client
renders. Slack: a `text` fallback plus Block Kit sections, as Incoming Webhooks take them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.notify.alert import Alert

ADAPTIVE_CARD_VERSION = "1.4"
# Enum values in lower case: renderers read them case-insensitively, and the Adaptive Card JSON schema lists them so.
_TEAMS_COLOR = {"critical": "attention", "high": "attention", "medium": "warning", "low": "accent"}
_SLACK_EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_blue_circle:",
}


def teams_message(alert: Alert) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"[{alert.severity.upper()}] {alert.title}",
            "weight": "bolder",
            "size": "medium",
            "color": _TEAMS_COLOR.get(alert.severity, "default"),
            "wrap": True,
        },
    ]
    if alert.notice:
        body.append({"type": "TextBlock", "text": alert.notice, "color": "warning", "wrap": True})
    body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in alert.facts()]})
    if alert.error:
        body.append({"type": "TextBlock", "text": alert.error, "wrap": True, "fontType": "monospace", "isSubtle": True})
    actions = [
        {"type": "Action.OpenUrl", "title": title, "url": url}
        for title, url in (("Open the run", alert.run_url), ("Runbook", alert.runbook_url))
        if url
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        "actions": actions,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def slack_message(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """(text, blocks): the text is what notifications and old clients show."""
    emoji = _SLACK_EMOJI.get(alert.severity, "")
    text = f"{emoji} [{alert.severity.upper()}] {alert.title}"
    facts = alert.facts()
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}]
    if alert.notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {alert.notice}"}})
    # Slack allows at most 10 fields per section.
    blocks += [
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in facts[i : i + 10]]}
        for i in range(0, len(facts), 10)
    ]
    if alert.error:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{alert.error}```"}})
    links = " | ".join(
        f"<{url}|{title}>" for title, url in (("Open the run", alert.run_url), ("Runbook", alert.runbook_url)) if url
    )
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    return text, blocks
