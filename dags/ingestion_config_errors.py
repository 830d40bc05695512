"""Makes broken source configs loud: each one becomes a line of this file's Airflow import error.

The valid sources' DAGs come from ingestion_dags.py and keep loading; this file holds no DAG. Airflow records an
import error per DAG file, so raising here shows every broken config (file, JSON path, what was expected) in the
UI's import-error banner and in `airflow dags list-import-errors`, and fails the DAG integrity test in CI.
A source whose config validates but whose DAG cannot be built is listed too: this file builds every DAG (keeping
none) to find them, since only building finds what Airflow refuses.
(Airflow's safe mode only parses files that mention both "airflow" and "dag": this docstring does.)
"""

from __future__ import annotations

from ingestion.factory import raise_for_config_errors

raise_for_config_errors()
