"""One stage of one entity's run in a process of its own, so a test can kill it (SIGKILL) at a fault point.

    python tests/integration/faults/stage_process.py SOURCE ENTITY STAGE RUN_ID END_ISO RESULTS_JSON

RESULTS_JSON carries the run's earlier stage results (the stand-in for XCom) in and this stage's result out. The
environment (stack connections, INGEST_CONFIG_DIR, INGEST_FAULT_DIR) is the caller's.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from tests.integration.support import run_stages


def main(source: str, entity: str, stage: str, run_id: str, end: str, results_file: str) -> None:
    path = Path(results_file)
    results = json.loads(path.read_text()) if path.exists() else {}
    run_stages(source, entity, run_id, datetime.fromisoformat(end), stages=(stage,), results=results)
    path.write_text(json.dumps(results))  # plain JSON already: what the operators hand XCom


if __name__ == "__main__":
    main(*sys.argv[1:])
