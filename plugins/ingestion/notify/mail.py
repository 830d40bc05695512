"""E-mail alerts: who an alert is addressed to, and sending it through the SMTP provider's SmtpNotifier.

A channel whose connection type is `smtp` is an e-mail channel. The connection is the provider's (host, port, login
and password of the relay; `from_email`, `disable_tls`, `disable_ssl`, `timeout`, `retry_limit` in its extra), plus
`to` in the extra: the mailbox for alerts that name no person, such as the digest. An alert goes to its owner (the
engineer on call, where the team has a rotation: notify.oncall); an escalation also to the secondary owner, a critical
incident also to the team lead. Owners that are not e-mail addresses are left out, and when none is
left the alert goes to the connection's `to`.
"""

from __future__ import annotations

import smtplib
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ingestion.notify.errors import AlertPostError
from ingestion.redact import redact

if TYPE_CHECKING:
    from ingestion.notify.alert import Alert


def _addresses(*names: str | None) -> list[str]:
    """The names that are e-mail addresses, each once, in order."""
    found: list[str] = []
    for name in names:
        if name and "@" in name and name not in found:
            found.append(name.strip())
    return found


def recipients(alert: Alert, fallback: str | None) -> list[str]:
    """Who the alert is addressed to: its owner (on escalation also the secondary owner, on a critical incident also
    the lead), else `fallback`."""
    people = _addresses(alert.owner, alert.secondary_owner if alert.kind == "escalation" else None, alert.lead)
    return people or _addresses(*(fallback or "").replace(";", ",").split(","))


def post_email(conn_id: str, extra: dict[str, Any], alert: Alert) -> None:
    """Send the alert (plain text and HTML) through SmtpNotifier on `conn_id`; raises AlertPostError when the relay
    refuses it or cannot be reached (the message names the connection, never its password)."""
    from ingestion.notify.payloads import email_message

    to = recipients(alert, extra.get("to"))
    if not to:
        raise AlertPostError(f"connection {conn_id!r}: the alert names no e-mail address; set `to` in its extra")
    from_email = extra.get("from_email")
    if not from_email:
        raise AlertPostError(f"connection {conn_id!r}: set `from_email` in its extra")
    subject, text, html_body = email_message(alert)
    notifier = _alert_notifier(conn_id, from_email, to, subject, text, html_body)
    try:
        notifier.notify({})
    except (smtplib.SMTPException, OSError) as error:
        raise AlertPostError(f"SMTP connection {conn_id!r}: {type(error).__name__}: {redact(str(error))}") from None


def _alert_notifier(conn_id: str, from_email: str, to: list[str], subject: str, text: str, html_body: str) -> Any:
    """An SmtpNotifier whose message is multipart/alternative: the plain text, then the HTML. The provider builds an
    HTML part only, so its hook's message builder is extended by one part; connecting, TLS, login and retries stay
    the provider's."""
    from email.mime.text import MIMEText

    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    class AlertSmtpHook(SmtpHook):
        def _build_mime_message(self, *args: Any, **kwargs: Any) -> Any:
            message, addressed = super()._build_mime_message(*args, **kwargs)
            message.set_payload([MIMEText(text, "plain", "utf-8"), *message.get_payload()])
            return message, addressed

    class AlertSmtpNotifier(SmtpNotifier):
        @cached_property
        def hook(self) -> SmtpHook:
            return AlertSmtpHook(smtp_conn_id=conn_id)

    # Called with notify(), not as a callback: the texts are final, nothing in them is a template.
    return AlertSmtpNotifier(
        smtp_conn_id=conn_id,
        from_email=from_email,
        to=to,
        subject=subject,
        html_content=html_body,
        mime_subtype="alternative",
    )
