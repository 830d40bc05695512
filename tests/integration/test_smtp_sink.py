"""The SMTP sink records what is sent to it over SMTP and serves it back to alert tests, filtered."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import requests


def test_messages_are_recorded_and_read_back(stack_env: dict[str, str], smtp_sink_url: str) -> None:
    marker = uuid.uuid4().hex
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["To"] = "b@example.com, c@example.com"
    message["Subject"] = f"hello {marker}"
    message.set_content(f"plain {marker}")
    message.add_alternative(f"<p>html {marker}</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", int(stack_env["STACK_SMTP_SINK_SMTP_PORT"]), timeout=10) as smtp:
        smtp.send_message(message)

    (mail,) = requests.get(f"{smtp_sink_url}/_messages", params={"contains": marker}, timeout=5).json()
    assert mail["rcpt_to"] == ["b@example.com", "c@example.com"]
    assert mail["subject"] == f"hello {marker}"
    assert mail["text"].strip() == f"plain {marker}"
    assert mail["html"].strip() == f"<p>html {marker}</p>"
    only_c = requests.get(f"{smtp_sink_url}/_messages", params={"contains": marker, "to": "c@example.com"}, timeout=5)
    assert len(only_c.json()) == 1
    nobody = requests.get(f"{smtp_sink_url}/_messages", params={"contains": marker, "to": "d@example.com"}, timeout=5)
    assert nobody.json() == []
