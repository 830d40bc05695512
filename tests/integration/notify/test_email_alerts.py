"""E-mail alerts through the SMTP provider's notifier to the stack's SMTP sink, beside Teams: the alert reaches its
owner with a plain-text and an HTML part carrying the card's facts, the escalation also reaches the secondary owner,
and the digest goes to the connection's mailbox. Against the real control database; only the clock is handed in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from ingestion.notify.alert import Alert
from ingestion.notify.dispatch import dispatch, escalate, send_digest
from ingestion.notify.notifiers import post_alert
from ingestion.state.store import ControlStore

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
CHANNELS = ("teams_alerts", "smtp_alerts")


@pytest.fixture
def store(control_url: str) -> Iterator[ControlStore]:
    store = ControlStore(create_engine(control_url)).ensure_schema()
    yield store
    store.engine.dispose()


def _alert(source: str, severity: str = "high") -> Alert:
    return Alert(
        kind="failure",
        severity=severity,
        title=f"{source}.orders: extract_land failed",
        source=source,
        entity="orders",
        dag_id=f"ingest_{source}",
        task_id="orders.extract_land",
        run_id="scheduled__2026-11-22",
        try_number=4,
        error="OperationalError: connection refused",
        owner="ana.lima@example.com",
        secondary_owner="bo.chen@example.com",
        team="crm-data",
        run_url="http://localhost:8080/dags/x",
        runbook_url="http://localhost:8080/dags/x/docs",
        counts={"rows_landed": 0},
    )


def _mails(sink: str, marker: str, to: str | None = None) -> list[dict[str, Any]]:
    params = {"contains": marker, **({"to": to} if to else {})}
    return list(httpx.get(f"{sink}/_messages", params=params, timeout=10).json())


def _smtp_conn(stack_env: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads(stack_env["AIRFLOW_CONN_SMTP_ALERTS"]))


def test_a_failure_alert_mails_its_owner_the_facts_of_the_card(store: ControlStore, smtp_sink_url: str) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    assert dispatch(_alert(source), CHANNELS, store, post_alert, now=T0) == {
        "teams_alerts": "sent",
        "smtp_alerts": "sent",
    }
    (mail,) = _mails(smtp_sink_url, source)
    assert mail["rcpt_to"] == ["ana.lima@example.com"]
    assert mail["from"] == "airflow-alerts@example.com"
    assert mail["content_type"] == "multipart/alternative"
    assert mail["subject"] == f"[HIGH] {source}.orders: extract_land failed"
    for label, value in _alert(source).facts():
        assert f"{label}:" in mail["text"], label
        assert f"<td>{value}</td>" in mail["html"], label
    for part in (mail["text"], mail["html"]):
        assert "OperationalError: connection refused" in part
        assert "http://localhost:8080/dags/x/docs" in part
    # De-duplication holds for e-mail as for Teams.
    assert dispatch(_alert(source), CHANNELS, store, post_alert, now=T0 + timedelta(minutes=1))["smtp_alerts"] == (
        "held:duplicate"
    )
    assert len(_mails(smtp_sink_url, source)) == 1


def test_the_escalation_mails_the_owner_and_the_secondary_owner(store: ControlStore, smtp_sink_url: str) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    dispatch(_alert(source), CHANNELS, store, post_alert, now=T0)
    assert escalate(store, post_alert, lambda s, e: timedelta(minutes=30), now=T0 + timedelta(minutes=31)) == 1
    (mail,) = [m for m in _mails(smtp_sink_url, source) if "ESCALATED" in m["subject"]]
    assert mail["rcpt_to"] == ["ana.lima@example.com", "bo.chen@example.com"]
    assert mail["subject"].startswith("[CRITICAL] ESCALATED to bo.chen@example.com")
    assert "Severity:        CRITICAL" in mail["text"]


def test_the_digest_mails_the_connections_mailbox(
    store: ControlStore, smtp_sink_url: str, stack_env: dict[str, str]
) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    mailbox = _smtp_conn(stack_env)["extra"]["to"]
    assert dispatch(_alert(source, severity="low"), CHANNELS, store, post_alert, now=T0) == {
        "teams_alerts": "held:digest",
        "smtp_alerts": "held:digest",
    }
    assert _mails(smtp_sink_url, source) == []
    assert send_digest(store, post_alert, now=T0 + timedelta(minutes=5)) == 2  # Teams and e-mail
    (mail,) = _mails(smtp_sink_url, source)
    assert mail["rcpt_to"] == [mailbox]
    assert mail["subject"].startswith("[LOW] 1 alert(s) held back since 2026-11-22 03:00 UTC")
    assert f"1x {source}.orders failure" in mail["text"]
    assert "Held digest:     1" in mail["text"]


def test_a_relay_that_is_down_fails_the_e_mail_only(
    store: ControlStore, smtp_sink_url: str, stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    conn = _smtp_conn(stack_env)
    conn["port"] = 1  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DOWN", json.dumps(conn))
    outcome = dispatch(_alert(source), ("teams_alerts", "smtp_down"), store, post_alert, now=T0)
    assert outcome == {"teams_alerts": "sent", "smtp_down": "failed"}
    assert _mails(smtp_sink_url, source) == []
