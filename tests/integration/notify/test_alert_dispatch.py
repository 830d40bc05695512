"""Alert routing, de-duplication, throttling, digest and escalation against the real control database and the
webhook sink, through the production transport (notifiers.post_alert: HttpHook for Teams, the Slack provider's
notifier for Slack). Only the clock is handed in, so minutes pass without waiting."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from ingestion.notify.alert import Alert
from ingestion.notify.dispatch import MAX_POSTS_PER_MINUTE, RETENTION_DAYS, dispatch, escalate, prune, send_digest
from ingestion.notify.notifiers import post_alert
from ingestion.state.store import ControlStore, RunRecord
from ingestion.state.tables import alerts
from tests.adaptive_card import card_errors

CHANNELS = ("teams_alerts", "slack_alerts")
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def store(control_url: str) -> Iterator[ControlStore]:
    # A control database of the test's own: other tests' alerts would count against the throttle.
    store = ControlStore(create_engine(control_url)).ensure_schema()
    yield store
    store.engine.dispose()


def _alert(source: str, entity: str, task: str = "orders.extract_land", severity: str = "high") -> Alert:
    return Alert(
        kind="failure",
        severity=severity,
        title=f"{source}.{entity}: extract_land failed",
        source=source,
        entity=entity,
        dag_id=f"ingest_{source}",
        task_id=task,
        run_id="scheduled__2026-11-22",
        try_number=4,
        error="OperationalError: connection refused",
        owner="ana.lima@example.com",
        secondary_owner="bo.chen@example.com",
        team="crm-data",
        run_url="http://localhost:8080/dags/x",
        runbook_url="http://localhost:8080/dags/x/docs",
    )


def _posts(sink: str, marker: str) -> dict[str, list[dict[str, Any]]]:
    every = httpx.get(f"{sink}/_posts", timeout=10).json()
    mine = [p for p in every if marker in json.dumps(p["body"])]
    return {ch: [p for p in mine if p["channel"] == ch] for ch in ("teams", "slack")}


def test_a_storm_of_50_failures_posts_a_bounded_number_and_one_summary(
    store: ControlStore, webhook_sink_url: str
) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    outcomes = [
        dispatch(_alert(source, f"e{i % 25}", task=f"e{i % 25}.extract_land"), CHANNELS, store, post_alert, now=T0)
        for i in range(50)
    ]
    posts = _posts(webhook_sink_url, source)
    # 25 entities, each failing twice: the repeats are duplicates, and past the budget the rest is throttled.
    assert len(posts["teams"]) == MAX_POSTS_PER_MINUTE
    assert [card_errors(p["body"]["attachments"][0]["content"]) for p in posts["teams"]] == [[]] * MAX_POSTS_PER_MINUTE
    assert len(posts["slack"]) == MAX_POSTS_PER_MINUTE
    held = [o["teams_alerts"] for o in outcomes if o["teams_alerts"] != "sent"]
    assert len(held) == 50 - MAX_POSTS_PER_MINUTE
    assert {"held:duplicate", "held:throttled"} == set(held)

    before = max((p["seq"] for p in httpx.get(f"{webhook_sink_url}/_posts", timeout=10).json()), default=0)
    assert send_digest(store, post_alert, now=T0 + timedelta(minutes=5)) == 2  # one per channel
    summaries = [
        p
        for p in httpx.get(f"{webhook_sink_url}/_posts", timeout=10).json()
        if p["seq"] > before and "held back" in json.dumps(p["body"])
    ]
    assert len([p for p in summaries if p["channel"] == "teams"]) == 1
    card = summaries[0]["body"] if summaries[0]["channel"] == "teams" else summaries[1]["body"]
    title = card["attachments"][0]["content"]["body"][0]["text"]
    assert f"{50 - MAX_POSTS_PER_MINUTE} alert(s) held back" in title
    assert card_errors(card["attachments"][0]["content"]) == []
    assert send_digest(store, post_alert, now=T0 + timedelta(minutes=10)) == 0  # nothing held since


def test_low_severity_waits_for_the_digest(store: ControlStore, webhook_sink_url: str) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    outcome = dispatch(_alert(source, "orders", severity="low"), CHANNELS, store, post_alert, now=T0)
    assert outcome == {"teams_alerts": "held:digest", "slack_alerts": "held:digest"}
    assert _posts(webhook_sink_url, source) == {"teams": [], "slack": []}
    send_digest(store, post_alert, now=T0 + timedelta(minutes=5))
    assert len(_posts(webhook_sink_url, source)["slack"]) == 1


def test_an_alert_whose_process_died_while_posting_counts_as_sent_and_the_digest_mentions_it(
    store: ControlStore, webhook_sink_url: str
) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"

    def killed(channel: str, alert: Alert) -> None:
        raise KeyboardInterrupt  # the task process ends between the decision to post and the post

    with pytest.raises(KeyboardInterrupt):
        dispatch(_alert(source, "orders"), ("teams_alerts",), store, killed, now=T0)
    # It may have reached the channel: a repeat within the window is held, as after a post.
    assert dispatch(_alert(source, "orders"), ("teams_alerts",), store, post_alert, now=T0 + timedelta(minutes=1)) == {
        "teams_alerts": "held:duplicate"
    }
    assert _posts(webhook_sink_url, source)["teams"] == []
    # Nobody knows whether it went out: the digest says so rather than let it vanish.
    assert send_digest(store, post_alert, now=T0 + timedelta(minutes=10)) == 1
    (summary,) = _posts(webhook_sink_url, source)["teams"]
    card = summary["body"]["attachments"][0]["content"]
    assert "2 alert(s) held back" in card["body"][0]["text"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert (facts["Held unconfirmed"], facts["Held duplicate"]) == ("1", "1")


def test_escalation_fires_once_after_the_delay_naming_the_secondary_owner(
    store: ControlStore, webhook_sink_url: str
) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    delay = lambda s, e: timedelta(minutes=30)  # noqa: E731
    dispatch(_alert(source, "orders"), CHANNELS, store, post_alert, now=T0)
    assert escalate(store, post_alert, delay, now=T0 + timedelta(minutes=29)) == 0
    assert escalate(store, post_alert, delay, now=T0 + timedelta(minutes=31)) == 1
    assert escalate(store, post_alert, delay, now=T0 + timedelta(minutes=45)) == 0  # once per episode
    posts = _posts(webhook_sink_url, "ESCALATED")
    mine = [p for p in posts["teams"] if source in json.dumps(p["body"])]
    (teams,) = mine
    title = teams["body"]["attachments"][0]["content"]["body"][0]["text"]
    assert title.startswith("[CRITICAL] ESCALATED to bo.chen@example.com")  # one level above high
    assert f"{source}.orders still failing 31 min" in title
    assert card_errors(teams["body"]["attachments"][0]["content"]) == []


def test_a_success_ends_the_episode_so_nothing_escalates(store: ControlStore) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    sent: list[tuple[str, Alert]] = []
    dispatch(_alert(source, "orders"), CHANNELS, store, lambda c, a: sent.append((c, a)), now=T0)
    store.commit_run(
        RunRecord(source=source, entity="orders", run_id="r1", dag_id="d", load_mode="full"), move_watermark=False
    )
    assert escalate(store, lambda c, a: sent.append((c, a)), lambda s, e: timedelta(minutes=1)) == 0
    assert len(sent) == 2  # the original posts only


def test_retention_deletes_old_records_but_keeps_what_a_digest_still_owes(
    store: ControlStore, webhook_sink_url: str
) -> None:
    source = f"s{uuid.uuid4().hex[:6]}"
    old_sent = _alert(source, "orders")
    old_digested = _alert(source, "customers", severity="low")
    old_held = _alert(source, "payments", severity="low")
    recent = _alert(source, "orders")
    dispatch(old_sent, CHANNELS, store, post_alert, now=T0)
    dispatch(old_digested, CHANNELS, store, post_alert, now=T0)
    send_digest(store, post_alert, now=T0 + timedelta(minutes=5))  # digests old_digested, records its own posts
    dispatch(old_held, CHANNELS, store, post_alert, now=T0 + timedelta(minutes=6))  # no digest since: still owed
    dispatch(recent, CHANNELS, store, post_alert, now=T0 + timedelta(days=RETENTION_DAYS - 1))

    def rows() -> list[tuple[str | None, str]]:
        with store.engine.connect() as conn:
            found = conn.execute(select(alerts.c.entity, alerts.c.status).order_by(alerts.c.id)).all()
        return [(entity, status) for entity, status in found]

    assert len(rows()) == 10  # 4 alerts and one digest, each on 2 channels
    assert prune(store, now=T0 + timedelta(days=RETENTION_DAYS, minutes=30)) == 6
    assert rows() == [("payments", "held"), ("payments", "held"), ("orders", "sent"), ("orders", "sent")]
    # The digest still posts what was owed, and a later prune takes it once digested.
    send_digest(store, post_alert, now=T0 + timedelta(days=RETENTION_DAYS, minutes=31))
    assert prune(store, now=T0 + timedelta(days=RETENTION_DAYS, minutes=32)) == 2
    assert ("payments", "held") not in rows()
    with pytest.raises(ValueError, match="escalation look-back"):
        prune(store, keep_days=7)
