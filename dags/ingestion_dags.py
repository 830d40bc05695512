"""Entry point of the Airflow DAG folder: one ingest_<source> DAG per valid source config, plus the smoke check,
the alert digest / escalation DAG and the landing zone's retention DAG.

Kept thin on purpose: it reads the config files and nothing else (no connections, Variables or network).
A worker about to run one task sets Airflow's parsing context, and then only that task's DAG is built.
Broken configs are reported by ingestion_config_errors.py, so they never take the valid DAGs down with them.
(Airflow's safe mode only parses files that mention both "airflow" and "dag": this docstring does.)
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from ingestion.alerts_dag import ALERTS_DAG_ID, build_alerts_dag
from ingestion.factory import build_dags
from ingestion.retention_dag import RETENTION_DAG_ID, build_retention_dag
from ingestion.smoke import SMOKE_DAG_ID, build_smoke_dag

_requested_dag_id = get_parsing_context().dag_id

globals().update(build_dags(dag_id=_requested_dag_id).dags)

if _requested_dag_id in (None, SMOKE_DAG_ID):
    smoke_dag = build_smoke_dag()

if _requested_dag_id in (None, ALERTS_DAG_ID):
    alerts_dag = build_alerts_dag()

if _requested_dag_id in (None, RETENTION_DAG_ID):
    retention_dag = build_retention_dag()
