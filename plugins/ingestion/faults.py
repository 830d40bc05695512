"""Named points in the stages where the reliability tests inject a fault: kill the process, raise, or pause.

A no-op (one environment lookup) unless `INGEST_FAULT_DIR` names a folder. A fault is armed by a JSON file in that
folder named `<point>@<source>.<entity>` (or `<point>@<source>.<entity>.p<k>` for the task of partition k of a
partitioned entity's extract_land or publish, or just `<point>`, for every entity):

    {"action": "kill" | "raise" | "pause", "after": 1000, "once": true}

- `after`: fire once the point's progress (rows, messages or parts so far, where the point has one) reaches it;
- `once` (default true): the file is removed when the fault fires, so a retry runs clean;
- `pause`: the process creates `<file>.paused` and waits (up to PAUSE_LIMIT_SECONDS) until it is removed, so a test
  can stop a service at exactly this point and then let the stage go on.

The points (grep `fault_point(`): `land.batch` (after a batch is written, progress = rows), `land.part_committed`
(after a part's block list is committed, progress = parts), `publish.batch` (after a batch is produced, progress =
messages), `publish.committed` (right after the Kafka transaction committed, before anything else is recorded),
`commit.in_transaction` (inside the control-database transaction, before it commits), `sftp.file` (before a file
is downloaded, progress = files so far).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

from ingestion.errors import InjectedFaultError

FAULT_DIR_ENV = "INGEST_FAULT_DIR"
PAUSE_LIMIT_SECONDS = 300

log = logging.getLogger(__name__)


def fault_point(point: str, where: str, *, progress: int | None = None, partition: int | None = None) -> None:
    """Fire the fault armed for `point` at `where` (`<source>.<entity>`), if any; in a partition of a partitioned
    extract_land, a fault armed for `<source>.<entity>.p<partition>` fires first."""
    directory = os.environ.get(FAULT_DIR_ENV)
    if not directory:
        return
    names = [f"{point}@{where}", point]
    if partition is not None:
        names.insert(0, f"{point}@{where}.p{partition}")
    for name in names:
        armed = Path(directory) / name
        try:
            spec = json.loads(armed.read_text() or "{}")
        except FileNotFoundError:
            continue
        if progress is not None and progress < int(spec.get("after", 0)):
            return
        if spec.get("once", True):
            armed.unlink(missing_ok=True)
        _fire(str(spec.get("action", "raise")), armed, point, where)
        return


def _fire(action: str, armed: Path, point: str, where: str) -> None:
    log.warning("injected fault at %s for %s: %s", point, where, action)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "pause":
        paused = armed.with_name(armed.name + ".paused")
        paused.write_text(str(os.getpid()))
        deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
        while paused.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return
    raise InjectedFaultError(f"injected fault at {point} for {where}")
