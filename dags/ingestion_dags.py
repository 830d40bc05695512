"""Entry point of the Airflow DAG folder: builds every platform DAG and puts it in this module's globals.

Kept thin on purpose: no connections, Variables or network here. See plugins/ingestion for the factory.
(Airflow's safe mode only parses files that mention both "airflow" and "dag": this docstring does.)
"""

from __future__ import annotations

from ingestion.smoke import build_smoke_dag

smoke_dag = build_smoke_dag()
