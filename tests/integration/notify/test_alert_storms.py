"""Alert storms and control-database outages, through the production path (`notifiers.send`, as a failure callback
calls it) against the real control database and the webhook sink.

Twenty tasks failing at once are twenty processes: each imports, says it is ready, and all are let go together, so
their throttle decisions race as they do in production. "The control database is down" is its URL pointed at a
closed port; "it is back" is the URL pointed at the real database again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from ingestion.notify.dispatch import MAX_POSTS_PER_MINUTE
from ingestion.state.tables import alerts
from tests.adaptive_card import card_errors
from tests.integration.faults.matrix import FaultRow, record
from tests.integration.notify.alert_process import failure_alert
from tests.integration.support import REPO

STORM = 20
UNREACHABLE_URL = "postgresql+psycopg://x:x@127.0.0.1:1/x"  # nothing listens on port 1: connection refused
UNREACHABLE_NOTICE = "control database was unreachable"


def _storm(env: dict[str, str], source: str, channel: str) -> list[dict[str, str]]:
    """STORM processes each sending one failure alert (entities e0..e19) to `channel` at the same moment; returns
    their outcomes."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.notify.alert_process", source, f"e{i}", channel],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(STORM)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            # Airflow may log to stdout first; `ready` is a line of its own.
            while (line := proc.stdout.readline()) and line.strip() != "ready":
                pass
            if not line:
                raise AssertionError(f"a process did not start: {proc.communicate(timeout=60)[1][-3000:]}")
        for proc in procs:  # all are imported and waiting: let them go together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        finished = [proc.communicate(timeout=240) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    failed = [err[-3000:] for proc, (_, err) in zip(procs, finished, strict=True) if proc.returncode != 0]
    assert not failed, failed[0]
    return [json.loads(out.rpartition("outcome ")[2]) for out, _ in finished]


def _env(control_url: str, fallback_db: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
        "INGEST_CONTROL_DB_URL": control_url,
        "INGEST_ALERT_FALLBACK_DB": str(fallback_db),
    }


def _posts(sink: str, channel: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sink}/_posts", params={"channel": channel}, timeout=10).json())


def _rows(url: str, channel: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = select(alerts).where(alerts.c.channel == channel).order_by(alerts.c.id)
            return [dict(row) for row in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def _statuses(rows: list[dict[str, Any]]) -> Counter[tuple[str, str | None]]:
    return Counter((row["status"], row["reason"]) for row in rows)


def test_20_concurrent_failures_post_at_most_the_throttle_and_hold_the_rest(
    control_url: str, teams_channel: str, webhook_sink_url: str, tmp_path: Path
) -> None:
    source = f"s{uuid.uuid4().hex[:8]}"
    fallback_db = tmp_path / "fallback.db"
    outcomes = _storm(_env(control_url, fallback_db), source, teams_channel)

    posts = _posts(webhook_sink_url, teams_channel)
    assert 1 <= len(posts) <= MAX_POSTS_PER_MINUTE
    assert all(UNREACHABLE_NOTICE not in json.dumps(p["body"]) for p in posts)  # the control DB was up
    assert Counter(o[teams_channel] for o in outcomes) == {"sent": len(posts), "held:throttled": STORM - len(posts)}
    rows = _rows(control_url, teams_channel)
    assert _statuses(rows) == {("sent", None): len(posts), ("held", "throttled"): STORM - len(posts)}
    assert not fallback_db.exists()  # nothing went to the machine's fallback store


def test_20_concurrent_failures_with_the_control_db_down_still_post_and_the_digest_catches_up(
    control_url: str, teams_channel: str, webhook_sink_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.alerts_dag import run_alert_maintenance

    source = f"s{uuid.uuid4().hex[:8]}"
    fallback_db = tmp_path / "fallback.db"
    outcomes = _storm(_env(UNREACHABLE_URL, fallback_db), source, teams_channel)

    posts = _posts(webhook_sink_url, teams_channel)
    sent = len(posts)
    assert 1 <= sent <= MAX_POSTS_PER_MINUTE  # throttled on this machine, though the control DB is down
    for post in posts:
        card = post["body"]["attachments"][0]["content"]
        assert UNREACHABLE_NOTICE in json.dumps(card)
        assert card_errors(card) == []
    assert Counter(o[teams_channel] for o in outcomes) == {"sent": sent, "held:throttled": STORM - sent}
    # What was decided is kept on this machine, and the control DB has nothing yet.
    assert _statuses(_rows(f"sqlite:///{fallback_db}", teams_channel)) == {
        ("sent", None): sent,
        ("held", "throttled"): STORM - sent,
    }
    assert _rows(control_url, teams_channel) == []

    # The control DB is back: the ingest_alerts DAG's next run moves the local records in and summarises the held.
    monkeypatch.setenv("INGEST_CONTROL_DB_URL", control_url)
    monkeypatch.setenv("INGEST_ALERT_FALLBACK_DB", str(fallback_db))
    assert run_alert_maintenance()["digests"] == 1
    rows = _rows(control_url, teams_channel)
    assert _statuses(rows) == {("sent", None): sent + 1, ("digested", "throttled"): STORM - sent}  # +1: the digest
    assert {r["entity"] for r in rows if r["kind"] == "failure"} == {f"e{i}" for i in range(STORM)}
    assert _rows(f"sqlite:///{fallback_db}", teams_channel) == []  # moved, not copied
    (summary,) = _posts(webhook_sink_url, teams_channel)[sent:]
    title = summary["body"]["attachments"][0]["content"]["body"][0]["text"]
    assert f"{STORM - sent} alert(s) held back" in title
    assert run_alert_maintenance()["digests"] == 0  # moved once: a second run finds nothing to move or summarise
    assert len(_rows(control_url, teams_channel)) == STORM + 1
    record(
        FaultRow(
            15,
            f"control DB down while {STORM} tasks fail at once",
            "the failure callbacks' alert dispatch",
            "n/a",
            "n/a",
            "n/a",
            f"posts up to the throttle ({MAX_POSTS_PER_MINUTE} a minute per channel), each naming the outage; the "
            "rest held on the machine and summarised by the digest once the DB was back; no alert lost",
        )
    )


def test_the_next_dispatch_after_an_outage_moves_the_local_records_into_the_control_db(
    control_url: str, teams_channel: str, webhook_sink_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.notify.notifiers import send

    source = f"s{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("INGEST_ALERT_FALLBACK_DB", str(tmp_path / "fallback.db"))
    monkeypatch.setenv("INGEST_CONTROL_DB_URL", UNREACHABLE_URL)
    assert send(failure_alert(source, "orders"), (teams_channel,)) == {teams_channel: "sent"}
    assert send(failure_alert(source, "orders"), (teams_channel,)) == {teams_channel: "held:duplicate"}  # locally

    monkeypatch.setenv("INGEST_CONTROL_DB_URL", control_url)
    # The duplicate window holds across the move: the control DB now knows the first post.
    assert send(failure_alert(source, "orders"), (teams_channel,)) == {teams_channel: "held:duplicate"}
    assert send(failure_alert(source, "customers"), (teams_channel,)) == {teams_channel: "sent"}
    rows = _rows(control_url, teams_channel)
    assert [(r["entity"], r["status"], r["reason"]) for r in rows] == [
        ("orders", "sent", None),
        ("orders", "held", "duplicate"),
        ("orders", "held", "duplicate"),
        ("customers", "sent", None),
    ]
    posts = _posts(webhook_sink_url, teams_channel)
    assert [UNREACHABLE_NOTICE in json.dumps(p["body"]) for p in posts] == [True, False]
    assert all(UNREACHABLE_NOTICE not in json.dumps(r["alert"]) for r in rows)  # the history keeps the alert only


def test_with_the_control_db_and_the_local_store_unusable_the_alert_still_posts_unthrottled(
    teams_channel: str, webhook_sink_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.notify.notifiers import send

    not_a_dir = tmp_path / "a_file"
    not_a_dir.write_text("")
    monkeypatch.setenv("INGEST_ALERT_FALLBACK_DB", str(not_a_dir / "fallback.db"))  # cannot be created
    monkeypatch.setenv("INGEST_CONTROL_DB_URL", UNREACHABLE_URL)
    source = f"s{uuid.uuid4().hex[:8]}"
    assert send(failure_alert(source, "orders"), (teams_channel,)) == {teams_channel: "sent"}
    (post,) = _posts(webhook_sink_url, teams_channel)
    card = post["body"]["attachments"][0]["content"]
    assert "without de-duplication or throttling" in json.dumps(card)
    assert card_errors(card) == []
