"""The platform's Celery settings (`[celery] celery_config_options = ingestion.celery_worker.CELERY_CONFIG`):
Airflow's own, plus one module each worker imports as it starts, `ingestion.worker_preload`.

A Celery worker forks a process for every task, and that process imports whatever the worker has not: the stages'
libraries (the Azure SDK behind WasbHook, the SQL and SFTP hooks, Alembic) cost each task about 0.7 s of CPU before
it reads a row (bench/README.md). Imported once in the worker, before it forks, every task inherits them. Airflow's
Celery provider does the same for its own operators.

The scheduler imports this module too (it sends the tasks), so it stays light: the imports happen only in workers.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

PRELOAD_MODULE = "ingestion.worker_preload"

CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), PRELOAD_MODULE),
}
