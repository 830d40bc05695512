"""The bodies posted to Teams and Slack, and the e-mail sent, for an alert. Pure.

Teams: a Workflows webhook ("When a Teams webhook request is received") takes a `message` whose attachment is an
Adaptive Card; the card uses schema 1.4 elements only (TextBlock, FactSet, Action.OpenUrl), which every Teams client
renders. Slack: a `text` fallback plus Block Kit sections, as Incoming Webhooks take them. E-mail: a subject, and a
plain-text and an HTML part with the same facts, error and links as the card.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.notify.alert import Alert

ADAPTIVE_CARD_VERSION = "1.4"
# Enum values in lower case: renderers read them case-insensitively, and the Adaptive Card JSON schema lists them so.
_TEAMS_COLOR = {"critical": "attention", "high": "attention", "medium": "warning", "low": "accent"}
_EMAIL_COLOR = {"critical": "#b00020", "high": "#b00020", "medium": "#b36b00", "low": "#1f5fa8"}
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


def email_message(alert: Alert) -> tuple[str, str, str]:
    """(subject, plain text, HTML): the facts, error and links of the Teams card, in both parts, HTML escaped."""
    subject = f"[{alert.severity.upper()}] {alert.title}"
    links = [(title, url) for title, url in (("Open the run", alert.run_url), ("Runbook", alert.runbook_url)) if url]
    facts = alert.facts()
    width = max(len(label) for label, _ in facts)
    text_lines = [subject, ""]
    if alert.notice:
        text_lines += [alert.notice, ""]
    text_lines += [f"{label + ':':<{width + 1}} {value}" for label, value in facts]
    if alert.error:
        text_lines += ["", alert.error]
    if links:
        text_lines += ["", *(f"{title}: {url}" for title, url in links)]
    text = "\n".join(text_lines) + "\n"

    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in facts
    )
    html_parts = [f'<h2 style="color:{_EMAIL_COLOR.get(alert.severity, "#333")}">{e(subject)}</h2>']
    if alert.notice:
        html_parts.append(f"<p><strong>{e(alert.notice)}</strong></p>")
    html_parts.append(f"<table>{rows}</table>")
    if alert.error:
        html_parts.append(f"<pre>{e(alert.error)}</pre>")
    if links:
        html_parts.append("<p>" + " | ".join(f'<a href="{e(url)}">{e(title)}</a>' for title, url in links) + "</p>")
    return subject, text, f"<html><body>{''.join(html_parts)}</body></html>"
