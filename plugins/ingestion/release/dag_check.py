"""The DAG integrity gate of a deployment, run in a child process on the release's own files:
`python -m ingestion.release.dag_check <dags folder>` with PYTHONPATH, INGEST_CONFIG_DIR and INGEST_ENV of the
release. Prints one JSON object: {"dag_ids": [...], "import_errors": {file: the end of its traceback},
"configs": {source: merged config}}; exit 1 when a file does not import. A child process, so the release's code
is what gets imported, not the deploying process's."""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from airflow.dag_processing.dagbag import DagBag

    from ingestion.config.loader import current_env
    from ingestion.paths import config_dir
    from ingestion.release.config_diff import snapshot

    bag = DagBag(dag_folder=argv[0])
    # The end of a traceback is the error itself (a broken config: every file, JSON path and message, masked).
    errors = {file: text.strip()[-1500:] for file, text in bag.import_errors.items()}
    configs = snapshot(config_dir(), current_env())
    print(json.dumps({"dag_ids": sorted(bag.dag_ids), "import_errors": errors, "configs": configs}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
