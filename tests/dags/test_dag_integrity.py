"""The DAG folder parses without errors and the platform DAGs have the expected shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}


def test_smoke_dag_uses_every_hook_once_then_alerts(dagbag: DagBag) -> None:
    # dagbag.dags, not get_dag(): get_dag consults the metadata DB, and parsing must not need one.
    dag = dagbag.dags["platform_smoke_check"]
    checks = {"read_postgres", "read_mysql", "write_lake", "produce_kafka", "list_sftp", "call_api"}
    assert set(dag.task_ids) == checks | {"post_alert"}
    assert dag.get_task("post_alert").upstream_task_ids == checks
    assert type(dag.timetable).__name__ == "NullTimetable"  # manual runs only
    assert all(task.owner == "data-platform" for task in dag.tasks)
    assert all(task.retries == 1 for task in dag.tasks)
    assert "platform" in dag.tags
