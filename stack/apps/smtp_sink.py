"""SMTP sink that records e-mail alerts so tests can read them back.

An aiosmtpd server takes every message on the SMTP port ($SMTP_SINK_SMTP_PORT, 127.0.0.1 unless $SMTP_SINK_HOST says
otherwise) without authentication or TLS, as a local relay would. This app, served by uvicorn on its own port,
starts and stops it and serves what it received: ``GET /_messages?to=&contains=`` lists the messages (envelope
sender and recipients, subject, and the plain-text and HTML parts), ``DELETE /_messages`` clears them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI

_lock = threading.Lock()
_messages: list[dict[str, Any]] = []


def _parts(message: Message) -> dict[str, str]:
    """The first text/plain and text/html parts, decoded."""
    found: dict[str, str] = {}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in {"text/plain", "text/html"} and kind not in found:
            payload = part.get_payload(decode=True)
            charset = part.get_content_charset() or "utf-8"
            found[kind] = payload.decode(charset, errors="replace") if isinstance(payload, bytes) else ""
    return found


class _Recorder:
    # aiosmtpd calls its handler's methods by these names.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=default_policy)
        parts = _parts(message)
        with _lock:
            _messages.append(
                {
                    "seq": len(_messages) + 1,
                    "received_at": datetime.now(UTC).isoformat(),
                    "mail_from": envelope.mail_from,
                    "rcpt_to": list(envelope.rcpt_tos),
                    "subject": str(message.get("Subject", "")),
                    "from": str(message.get("From", "")),
                    "to": str(message.get("To", "")),
                    "content_type": message.get_content_type(),
                    "text": parts.get("text/plain", ""),
                    "html": parts.get("text/html", ""),
                }
            )
        return "250 Message accepted for delivery"


@asynccontextmanager
async def _smtp_server(_: FastAPI) -> AsyncIterator[None]:
    controller = Controller(
        _Recorder(),
        hostname=os.environ.get("SMTP_SINK_HOST", "127.0.0.1"),
        port=int(os.environ.get("SMTP_SINK_SMTP_PORT", "28025")),
    )
    controller.start()
    try:
        yield
    finally:
        controller.stop()


app = FastAPI(title="SMTP sink", version="1.0", lifespan=_smtp_server)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/_messages")
def list_messages(to: str | None = None, contains: str | None = None) -> list[dict[str, Any]]:
    """Messages to `to` (an envelope recipient) whose subject or text holds `contains`, oldest first."""
    with _lock:
        return [
            m
            for m in _messages
            if (to is None or to in m["rcpt_to"])
            and (contains is None or contains in m["subject"] or contains in m["text"])
        ]


@app.delete("/_messages")
def clear_messages() -> dict[str, int]:
    with _lock:
        cleared = len(_messages)
        _messages.clear()
    return {"cleared": cleared}
