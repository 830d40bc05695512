#!/usr/bin/env bash
# Deploys one release and proves it works; the deploy workflow calls it, and people run it. Same steps for every
# target (plugins/ingestion/release/deploy.py): release record and config diff, gates, apply, DAGs served, smoke run,
# rollback and alert on failure.
#   scripts/deploy.sh local [--from <checkout>] [--bundle <folder>] [--api http://127.0.0.1:8080] [--env dev|prod]
#   scripts/deploy.sh <dev|prod> <image repository> <image digest sha256:...>
# The control DB comes from INGEST_CONTROL_DB_URL or the Airflow connection control_db (never an embedded SQLite).
# See docs/deployment.md for the variables the Helm targets need.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=$REPO/.venv/bin/python
[[ -x $PY ]] || { echo "[deploy] FAILED: $PY not found: run bash scripts/bootstrap.sh venv" >&2; exit 1; }
export PYTHONPATH=$REPO/plugins${PYTHONPATH:+:$PYTHONPATH}
exec "$PY" -m ingestion.release.deploy "$@"
