"""The deadline-miss callback: Airflow 3's DeadlineAlert replaces SLA misses. The builder gives a source with
`deadline.expected_duration_minutes` a DeadlineAlert from the run's queued time, and one with `deadline.finish_by` a
DeadlineAlert from the run's logical date (to that time of day after the run's scheduled time); when one passes with
the run still going, the scheduler has this callback run by the executor (a SyncCallback), and it posts through the same
dispatch as every other alert. Delivery is at least once; de-duplication keeps a repeat from posting twice.

Importable on its own (no DAG-file import), as callbacks must be.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

CALLBACK_PATH = "ingestion.notify.deadline.deadline_missed"


def _field(obj: Any, name: str) -> Any:
    # The callback gets the run as a mapping (the API model, serialised for the executor), not a DagRun.
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def deadline_missed(
    context: Any = None, *, source: str, minutes: int | None = None, finish_by: str | None = None, **_: Any
) -> None:
    from ingestion.config.loader import load_configs
    from ingestion.notify.alert import Alert, airflow_base_url, run_url, runbook_url
    from ingestion.notify.notifiers import send
    from ingestion.paths import config_dir
    from ingestion.planner import plan_source

    context = context or {}
    dag_run = context.get("dag_run")
    config = load_configs(config_dir(), only=source).configs.get(source)
    if config is None:
        log.error("deadline missed for source %s, whose config is gone: nothing sent", source)
        return
    plan = plan_source(config)
    entity = plan.entities[0]
    dag_id = _field(dag_run, "dag_id") or plan.dag_id
    run_id = _field(dag_run, "run_id") or _field(dag_run, "dag_run_id")  # the API model names it dag_run_id
    base = airflow_base_url()
    if finish_by is not None:
        # Its own kind, so de-duplication keeps it apart from an expected-duration miss of the same run.
        kind, what = "deadline_finish_by", f"the day's run has not finished by {finish_by} UTC"
        counts: dict[str, Any] = {"finish_by": finish_by}
    else:
        kind, what = "deadline", f"the run is still going {minutes} min after it was queued"
        counts = {"expected_duration_minutes": minutes}
    alert = Alert(
        kind=kind,
        severity=entity.alerts.severity.value,
        title=f"{source}: deadline missed, {what}",
        source=source,
        entity=None,
        dag_id=dag_id,
        task_id=None,
        run_id=run_id,
        try_number=None,
        error="",
        owner=config.owners.primary,
        secondary_owner=config.owners.secondary,
        team=config.owners.team,
        run_url=run_url(base, dag_id, run_id),
        runbook_url=runbook_url(base, dag_id),
        counts=counts,
    )
    channels = tuple(dict.fromkeys(c for e in plan.entities for c in e.alerts.channels_for(alert.severity)))
    send(alert, channels)
