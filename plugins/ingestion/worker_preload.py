"""Imported once by each Celery worker as it starts (see ingestion.celery_worker): the libraries the stage tasks
use, so that the task processes the worker forks have them already.

Only libraries from the image or virtualenv, which change only with a restart of the worker. The platform's own
modules stay out: a release switches them under a running worker, and each task must import the ones its release
serves. A library that is missing is logged, not fatal: the worker still starts, and a task that needs it fails
with the import error in its own log.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

# The hooks and libraries the stages import when they run, by what needs them.
PRELOADED_MODULES = (
    "airflow.providers.microsoft.azure.hooks.wasb",  # the lake: every stage
    "airflow.providers.postgres.hooks.postgres",  # the control DB, and Postgres sources
    "alembic.script",  # the control DB's schema check
    "alembic.runtime.migration",
    "adbc_driver_postgresql.dbapi",  # Postgres sources, read as Arrow
    "airflow.providers.mysql.hooks.mysql",  # MySQL and MariaDB sources
    "airflow.providers.http.hooks.http",  # REST sources, Teams alerts
    "airflow.providers.sftp.hooks.sftp",  # file sources
    "pyarrow.parquet",  # landing, validate and publish
    "pyarrow.compute",
    "confluent_kafka",  # publish
    "airflow.providers.apache.kafka.hooks.produce",
    "airflow.providers.slack.hooks.slack_webhook",  # alerts
    "airflow.providers.smtp.hooks.smtp",
)


def preload(modules: tuple[str, ...] = PRELOADED_MODULES) -> list[str]:
    """Import each module; the names of those that failed (each logged with its error)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.warning(
                "not preloaded: %s (%s: %s); tasks that need it import it themselves", name, type(exc).__name__, exc
            )
            failed.append(name)
    return failed


preload()
