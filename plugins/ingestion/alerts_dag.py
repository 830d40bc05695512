"""`ingest_alerts`: every 5 minutes, move in the alert records a control database outage left on this machine, post
the digest of held alerts (low severity, duplicates, throttled ones), escalate failures that have gone on past their
entity's `alerts.escalate_after_minutes` with no success since, and delete alert records past their retention
(`dispatch.RETENTION_DAYS`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

ALERTS_DAG_ID = "ingest_alerts"


def _escalation_delays() -> dict[tuple[str, str | None], timedelta]:
    from ingestion.config.loader import load_configs
    from ingestion.paths import config_dir
    from ingestion.planner import plan_source

    delays: dict[tuple[str, str | None], timedelta] = {}
    for config in load_configs(config_dir()).configs.values():
        for entity in plan_source(config).entities:
            delays[(config.name, entity.entity.name)] = timedelta(minutes=entity.alerts.escalate_after_minutes)
    return delays


def run_alert_maintenance() -> dict[str, int]:
    from ingestion.notify.delivery import move_local_records
    from ingestion.notify.dispatch import escalate, prune, send_digest
    from ingestion.notify.notifiers import post_alert
    from ingestion.state.store import open_control_store

    delays = _escalation_delays()
    with open_control_store() as store:
        moved = move_local_records(store)  # first, so the digest and escalation see what was held during an outage
        digests = send_digest(store, post_alert)
        escalations = escalate(store, post_alert, lambda source, entity: delays.get((source, entity)))
        pruned = prune(store)
    return {"moved": moved, "digests": digests, "escalations": escalations, "pruned": pruned}


@task(task_id="digest_and_escalate")
def digest_and_escalate(**_: Any) -> dict[str, int]:
    return run_alert_maintenance()


def build_alerts_dag() -> DAG:
    with DAG(
        dag_id=ALERTS_DAG_ID,
        description="Digest of held alerts, escalation of failures that go on, alert record retention",
        schedule="*/5 * * * *",
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["platform", "alerts"],
        default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(minutes=1)},
        doc_md=__doc__,
    ) as dag:
        digest_and_escalate()
    return dag
