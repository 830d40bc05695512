"""Print what the demo's last run of each DAG did: task states and results, and for ingestion DAGs, per entity,
the rows each stage saw, the files it landed (general and sensitive zone) and the topic offsets it published to."""

from __future__ import annotations

import json
import sys
from typing import Any

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import select


def _results(session: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    rows = session.execute(
        select(XComModel.task_id, XComModel.value).where(
            XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
        )
    ).all()
    return {task_id: XComModel.deserialize_value(_Row(value)) for task_id, value in rows}


def _entity_lines(results: dict[str, Any]) -> list[str]:
    entities = sorted({task_id.split(".")[0] for task_id in results if task_id.endswith(".extract_land")})
    if not entities:
        return []
    lines = ["", f"  {'entity':<16} {'landed':>8} {'validated':>10} {'published':>10}  watermark"]
    for entity in entities:
        landed = results.get(f"{entity}.extract_land") or {}
        validated = results.get(f"{entity}.validate") or {}
        published = results.get(f"{entity}.publish") or {}
        committed = results.get(f"{entity}.commit") or {}
        watermark = committed.get("watermark") or "(not moved)"
        lines.append(
            f"  {entity:<16} {landed.get('rows', '-'):>8} {validated.get('rows', '-'):>10} "
            f"{published.get('rows_published', '-'):>10}  {watermark}"
        )
        for loaded in landed.get("files_loaded", []):
            lines.append(f"      read       sftp:{loaded['path']} ({loaded['rows']} rows)")
        if landed.get("requests"):
            lines.append(f"      read       {landed['records_seen']} record(s) in {landed['requests']} API request(s)")
        if landed.get("quarantined"):
            lines.append(f"      quarantine {landed['quarantined']} record(s) in {landed['quarantine_file']}")
        for path in landed.get("files", []):
            lines.append(f"      landed     {landed.get('container')}/{path}")
        if landed.get("manifest"):
            lines.append(f"      manifest   {landed.get('container')}/{landed['manifest']}")
        sensitive_container = str(landed.get("sensitive_manifest", "")).split("/")[0]
        for path in landed.get("sensitive_files", []):
            lines.append(f"      sensitive  {sensitive_container}/{path}")
        offsets = published.get("offsets") or {}
        if offsets:
            spans = ", ".join(f"p{p}: {a}->{b}" for p, (a, b) in sorted(offsets.items(), key=lambda kv: int(kv[0])))
            lines.append(f"      topic      {published.get('topic')} offsets {spans}")
        elif published.get("topic"):
            lines.append(f"      topic      {published.get('topic')} (nothing new published)")
    return lines


def summarize(dag_id: str) -> bool:
    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
        ).first()
        if run is None:
            print(f"{dag_id}: no run found")
            return False
        print(f"\n{dag_id}  run {run.run_id}  state={run.state}")
        tis = session.scalars(
            select(TaskInstance)
            .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            .order_by(TaskInstance.start_date)
        ).all()
        results = _results(session, dag_id, run.run_id)
        for ti in tis:
            result = json.dumps(results[ti.task_id], default=str) if ti.task_id in results else ""
            seconds = f"{ti.duration:.1f}s" if ti.duration is not None else "-"
            print(f"  {ti.task_id:<28} {ti.state!s:<10} {seconds:>7}  {result[:110]}")
        for line in _entity_lines(results):
            print(line)
        return str(run.state) == "success"


class _Row:
    """XComModel.deserialize_value reads `.value` from a row."""

    def __init__(self, value: object) -> None:
        self.value = value


def main(dag_ids: list[str]) -> int:
    print("=" * 100)
    print("Demo summary")
    ok = all([summarize(dag_id) for dag_id in dag_ids])
    print("=" * 100)
    print("all demo runs succeeded" if ok else "SOME DEMO RUNS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
