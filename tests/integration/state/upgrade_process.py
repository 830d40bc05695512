"""One `db upgrade` in a process of its own, as a deploy's init job runs it:

    python -m tests.integration.state.upgrade_process <control DB URL>

Prints `ready` once its migrations are loaded, waits for a line on stdin (so that a test can let several processes go
at the same moment), upgrades and prints `outcome <JSON>` (the revisions before and after), last."""

from __future__ import annotations

import json
import sys

from sqlalchemy import create_engine

from ingestion.state import schema


def main(url: str) -> None:
    engine = create_engine(url)
    schema.head_revision()  # loaded before `ready`, so that the upgrades start together
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        done = schema.upgrade(engine)
    finally:
        engine.dispose()
    print("outcome", json.dumps({"before": done.before, "after": done.after}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
