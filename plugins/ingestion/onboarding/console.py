"""Output of the onboarding commands: their own lines on standard output, everything else on standard error.

Airflow's loggers write to the standard output they found when Airflow was imported (and hold on to it), so
redirecting `sys.stdout` would not move their lines: file descriptor 1 itself goes to standard error while a command
works, and the command writes to a stream on the original standard output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import TextIO


def quiet_libraries() -> None:
    """Warnings only from Airflow's hooks and the clients: their progress lines would bury the command's own. Airflow
    reads its level when it is first imported, which the config commands before this do not do."""
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    for name in ("paramiko", "azure", "ingestion", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def own_stdout() -> Iterator[TextIO]:
    """A stream on the original standard output, while file descriptor 1 points at standard error."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    stream = os.fdopen(os.dup(saved), "w", encoding="utf-8", buffering=1)
    try:
        yield stream
    finally:
        stream.close()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
