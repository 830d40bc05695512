"""Airflow's `[core] hostname_callable` for the Celery workers of `make airflow EXECUTOR=celery`.

Two workers on one machine would both record that machine's name on the task instances they run; each reports the
name it was given instead (as workers on separate machines would), so a task instance shows which worker ran it.
"""

from __future__ import annotations

import os
import socket

HOSTNAME_VAR = "STACK_WORKER_HOSTNAME"


def hostname() -> str:
    return os.environ.get(HOSTNAME_VAR) or socket.getfqdn()
