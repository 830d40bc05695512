"""Print what the demo's last run of each DAG did: task states and the summaries tasks returned over XCom."""

from __future__ import annotations

import json
import sys

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import select


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
        for ti in tis:
            xcom = session.scalars(
                select(XComModel.value).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == run.run_id,
                    XComModel.task_id == ti.task_id,
                    XComModel.key == "return_value",
                )
            ).first()
            result = json.dumps(XComModel.deserialize_value(_Row(xcom)), default=str) if xcom is not None else ""
            seconds = f"{ti.duration:.1f}s" if ti.duration is not None else "-"
            print(f"  {ti.task_id:<28} {ti.state!s:<10} {seconds:>7}  {result[:110]}")
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
