"""One failing task's alert in a process of its own, as a failure callback sends it (`notifiers.send`):

    python -m tests.integration.notify.alert_process <source> <entity> <channel>

Prints `ready` once imported, waits for a line on stdin (so that a test can let many processes go at the same moment),
sends the alert and prints `outcome <JSON>`, last."""

from __future__ import annotations

import json
import sys

from ingestion.notify.alert import Alert
from ingestion.notify.notifiers import send


def failure_alert(source: str, entity: str) -> Alert:
    return Alert(
        kind="failure",
        severity="high",
        title=f"{source}.{entity}: extract_land failed",
        source=source,
        entity=entity,
        dag_id=f"ingest_{source}",
        task_id=f"{entity}.extract_land",
        run_id="scheduled__2026-11-22",
        try_number=1,
        error="OperationalError: connection refused",
        owner="ana.lima@example.com",
        secondary_owner="bo.chen@example.com",
        team="crm-data",
        run_url=None,
        runbook_url=None,
    )


def main(source: str, entity: str, channel: str) -> None:
    print("ready", flush=True)
    sys.stdin.readline()
    print("outcome", json.dumps(send(failure_alert(source, entity), (channel,))), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
