"""Which alerts are posted now, which are held, and the digest and escalation that follow. State lives in the
control database (`ingest_alert`), so the rules hold across task processes and restarts; when that database is down,
notify.delivery applies the same rules to a store of the machine's own and moves its records in afterwards.

- Routing: `low` severity never posts at once; it waits for the digest. Other severities post to the entity's
  channels.
- De-duplication: an alert with the same key (kind, source, entity, task) posted to a channel in the last
  DEDUP_MINUTES is held.
- Throttling: a channel gets at most MAX_POSTS_PER_MINUTE posts a minute (Teams takes about 4 a second, a person
  far fewer); the rest are held. This holds under concurrency: the decision to post or hold and its record are one
  transaction under a per-channel lock (Postgres: a transaction-scoped advisory lock on the channel; SQLite: the
  write lock, taken first), and a post is recorded as a reservation ("sending") before it is made, so it counts at
  once. The post itself happens after the commit, so no lock is held across a webhook call; its record then becomes
  "sent" or "failed". Other databases get no lock, and concurrent processes may overshoot by their number.
- A reservation left "sending" (the process died between the decision and the post, or the record could not be
  updated after it) counts as posted, for de-duplication and the throttle; after STALE_RESERVATION the digest
  reports it as "unconfirmed", since nobody knows whether it reached the channel.
- Digest: `send_digest` posts one summary per channel of everything held (and every stale reservation) not yet
  summarised, then marks it.
- Escalation: `escalate` finds entities whose first failure alert is older than their `escalate_after_minutes` with
  no committed run since, and posts once per such episode at one severity higher, naming the secondary owner.
- Retention: `prune` deletes what no rule reads any more, rows older than RETENTION_DAYS, except held ones and
  reservations that no digest has summarised yet.
The `ingest_alerts` DAG runs digest, escalation and pruning every few minutes.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from ingestion.notify.alert import Alert, short_error
from ingestion.notify.errors import AlertStoreError
from ingestion.state import alerts as records
from ingestion.state.alerts import SENDING

if TYPE_CHECKING:
    from collections.abc import Callable

    from ingestion.state.alerts import ChannelDecision
    from ingestion.state.store import ControlStore

log = logging.getLogger(__name__)

DEDUP_MINUTES = 10
MAX_POSTS_PER_MINUTE = 10
# Escalation looks back ESCALATION_LOOKBACK; what is older only grows the table (a storm writes a row per alert and
# channel). A month keeps recent history for whoever asks what was sent, and is well past every rule's window.
ESCALATION_LOOKBACK = timedelta(days=7)
RETENTION_DAYS = 30
HIGHER = {"low": "medium", "medium": "high", "high": "critical", "critical": "critical"}
POSTED = ("sent", SENDING)  # what de-duplication and the throttle count
# A post gives up after 30 s: a reservation this old belongs to a process that died before it could confirm.
STALE_RESERVATION = timedelta(minutes=5)


# The transport is handed in as `post(channel, alert)` (notifiers.post_alert in production), so these rules are
# tested against the real control database without posting.


def dedup_key(alert: Alert) -> str:
    return "|".join((alert.kind, alert.source, alert.entity or "", alert.task_id or ""))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _alert_row(
    alert: Alert, channel: str, status: str, reason: str | None, now: datetime, key: str | None = None
) -> dict[str, Any]:
    """An `ingest_alert` row for the alert on one channel; `key` overrides the de-duplication key."""
    return {
        "dedup_key": key or dedup_key(alert),
        "kind": alert.kind,
        "severity": alert.severity,
        "source": alert.source,
        "entity": alert.entity,
        "channel": channel,
        "status": status,
        "reason": reason,
        "alert": asdict(alert),
        "created_at": now,
    }


def _hold_reason(decision: ChannelDecision, alert: Alert, now: datetime) -> str | None:
    if alert.severity == "low":
        return "digest"
    if decision.count(POSTED, since=now - timedelta(minutes=DEDUP_MINUTES), dedup_key=dedup_key(alert)):
        return "duplicate"
    last_minute = decision.count(POSTED, since=now - timedelta(minutes=1))
    return "throttled" if last_minute >= MAX_POSTS_PER_MINUTE else None


def _reserve(store: ControlStore, alert: Alert, channel: str, now: datetime) -> tuple[int, str | None]:
    """Decide post or hold for one channel and record the decision, atomically for the channel: (row id, hold
    reason or None to post)."""
    with records.deciding(store.engine, channel) as decision:
        reason = _hold_reason(decision, alert, now)
        row_id = decision.record(_alert_row(alert, channel, "held" if reason else SENDING, reason, now))
    return row_id, reason


def _settle(store: ControlStore, row_id: int, status: str) -> None:
    """Record what became of a reserved post. On failure the row stays a reservation: it counts as posted."""
    try:
        records.set_status(store.engine, row_id, status)
    except SQLAlchemyError as error:
        log.warning("alert record %s could not be marked %s: %s", row_id, status, short_error(error))


def dispatch(
    alert: Alert,
    channels: tuple[str, ...],
    store: ControlStore,
    post: Callable[[str, Alert], None],
    now: datetime | None = None,
    *,
    notice: str = "",
) -> dict[str, str]:
    """Post or hold the alert on each channel; returns channel -> sent / held:<reason> / failed. A post that fails
    never raises; a store that cannot decide raises AlertStoreError, carrying the channels decided before it.
    `notice` goes into the posts, not into the record."""
    now = now or datetime.now(UTC)
    posted = replace(alert, notice=notice) if notice else alert
    outcome: dict[str, str] = {}
    for channel in channels:
        try:
            row_id, reason = _reserve(store, alert, channel, now)
        except SQLAlchemyError as error:
            raise AlertStoreError(channel, dict(outcome), error) from error
        if reason is not None:
            outcome[channel] = f"held:{reason}"
            log.info("alert %s for %s.%s to %s held (%s)", alert.kind, alert.source, alert.entity, channel, reason)
            continue
        try:
            post(channel, posted)
        except Exception as error:  # noqa: BLE001 - an alert that cannot be posted must not fail the pipeline
            _settle(store, row_id, "failed")
            outcome[channel] = "failed"
            log.error("alert %s to %s not sent: %s", alert.kind, channel, short_error(error))
            continue
        _settle(store, row_id, "sent")
        outcome[channel] = "sent"
    return outcome


def send_digest(store: ControlStore, post: Callable[[str, Alert], None], now: datetime | None = None) -> int:
    """One summary post per channel of the alerts held since the last digest, and of reservations never confirmed
    (reason "unconfirmed"); returns the posts made."""
    now = now or datetime.now(UTC)
    held = records.owed_to_digest(store.engine, stale_before=now - STALE_RESERVATION)
    by_channel: dict[str, list[Any]] = {}
    for row in held:
        by_channel.setdefault(row["channel"], []).append(row)
    posts = 0
    for channel, rows in by_channel.items():
        reasons = Counter(r["reason"] if r["status"] == "held" else "unconfirmed" for r in rows)
        sources = Counter(f"{r['source']}.{r['entity'] or '*'} {r['kind']}" for r in rows)
        first = min(_utc(r["created_at"]) for r in rows)  # records moved in after an outage come later by id
        worst = max((r["severity"] for r in rows), key=list(HIGHER).index)
        summary = Alert(
            kind="summary",
            severity=worst,
            title=f"{len(rows)} alert(s) held back since {first:%Y-%m-%d %H:%M} UTC",
            source="platform",
            entity=None,
            dag_id="ingest_alerts",
            task_id=None,
            run_id=None,
            try_number=None,
            error="; ".join(f"{n}x {what}" for what, n in sources.most_common(10)),
            owner="-",
            secondary_owner=None,
            team="-",
            run_url=None,
            runbook_url=None,
            counts={f"held_{reason}": n for reason, n in sorted(reasons.items())},
        )
        try:
            post(channel, summary)
        except Exception as error:  # noqa: BLE001 - try again at the next digest
            log.error("digest to %s not sent: %s", channel, error)
            continue
        posts += 1
        records.digested(store.engine, [r["id"] for r in rows], _alert_row(summary, channel, "sent", None, now))
    return posts


def escalate(
    store: ControlStore,
    post: Callable[[str, Alert], None],
    escalate_after: Callable[[str, str | None], timedelta | None],
    now: datetime | None = None,
) -> int:
    """Escalate every failing episode past its delay once; returns the escalations posted.

    `escalate_after(source, entity)` gives the entity's delay from its config (None: the entity is gone)."""
    now = now or datetime.now(UTC)
    # A week back is plenty: an episode older than that has long been escalated or resolved.
    failures = records.records_of_kind(store.engine, "failure", since=now - ESCALATION_LOOKBACK)
    episodes: dict[tuple[str, str | None], Any] = {}
    last_success: dict[tuple[str, str | None], datetime | None] = {}
    for row in failures:
        key = (row["source"], row["entity"])
        if key not in last_success:  # one lookup per entity, however many alerts it has
            last_success[key] = records.last_commit(store.engine, *key)
        succeeded = last_success[key]
        if succeeded is not None and succeeded >= _utc(row["created_at"]):
            continue  # a run succeeded after this alert: that episode is over
        episodes.setdefault(key, row)  # the first failure alert of the open episode
    escalated = 0
    for (source, entity), first in episodes.items():
        delay = escalate_after(source, entity)
        started = _utc(first["created_at"])
        if delay is None or now - started < delay:
            continue
        episode = f"escalation|{source}|{entity or ''}|{started.isoformat()}"
        if records.count_with_key(store.engine, episode):
            continue
        original = Alert(**first["alert"])
        secondary = original.secondary_owner or original.owner
        minutes = int((now - started).total_seconds() // 60)
        alert = replace(
            original,
            kind="escalation",
            severity=HIGHER[original.severity],
            title=f"ESCALATED to {secondary}: {source}.{entity} still failing {minutes} min after the first "
            "alert, no success since",
        )
        channels = sorted({r["channel"] for r in failures if (r["source"], r["entity"]) == (source, entity)})
        for channel in channels:
            try:
                post(channel, alert)
                status = "sent"
            except Exception as error:  # noqa: BLE001
                log.error("escalation to %s not sent: %s", channel, error)
                status = "failed"
            records.add(store.engine, _alert_row(alert, channel, status, None, now, key=episode))
        escalated += 1
    return escalated


def prune(store: ControlStore, now: datetime | None = None, keep_days: int = RETENTION_DAYS) -> int:
    """Delete alert rows older than `keep_days`, except held ones and reservations no digest has summarised yet (the
    next digest still owes them to a channel); returns the rows deleted."""
    if timedelta(days=keep_days) <= ESCALATION_LOOKBACK:
        raise ValueError(f"keep_days must be more than the escalation look-back ({ESCALATION_LOOKBACK.days} days)")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    return records.delete_before(store.engine, cutoff)
