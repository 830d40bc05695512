#!/usr/bin/env bash
# `make run DAG=<dag_id> [DATE=YYYY-MM-DD]`: run one DAG once, by hand, on the local stack, with the environment
# `make demo` uses (.stack/env, scripts/airflow_env.sh, no deadlines: see scripts/demo.sh), then print what it did.
# DATE is the run's logical date (default: now). Inspect an entity afterwards: scripts/ingest inspect <source> <entity>.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[run] %s\n' "$*"; }
dag_id=${1:-}
[[ -n $dag_id ]] || { echo "usage: make run DAG=<dag_id> [DATE=YYYY-MM-DD]" >&2; exit 2; }
logical_date=("${@:2}")
[[ -f ${STACK_STATE_DIR:-.stack}/env ]] || { say "no ${STACK_STATE_DIR:-.stack}/env: start the local stack first (make stack-up)"; exit 1; }
set -a; source "${STACK_STATE_DIR:-.stack}/env"; set +a
source scripts/airflow_env.sh
export INGEST_DEADLINES=off  # `airflow dags test` in 3.3.2 crashes after a run of a DAG with a deadline (demo.sh)
mkdir -p "$AIRFLOW_HOME/run"
log="$AIRFLOW_HOME/run/prepare.log"
.venv/bin/airflow db migrate > "$log" 2>&1 || { tail -20 "$log"; say "FAILED: airflow db migrate"; exit 1; }
scripts/ingest db upgrade >> "$log" 2>&1 || { tail -20 "$log"; say "FAILED: scripts/ingest db upgrade"; exit 1; }
log="$AIRFLOW_HOME/run/$dag_id.log"
say "running $dag_id ${logical_date[*]} (airflow dags test; log: $log)"
status=0
.venv/bin/airflow dags test "$dag_id" "${logical_date[@]}" > "$log" 2>&1 || status=$?
.venv/bin/python -c 'import sys; sys.path.insert(0, "scripts"); from demo_summary import summarize
sys.exit(0 if summarize(sys.argv[1]) else 1)' "$dag_id" || status=1
if [[ $status -ne 0 ]]; then
  say "$dag_id FAILED; last lines of its log:"; tail -25 "$log"; exit 1
fi
say "$dag_id succeeded; look at an entity's run: scripts/ingest inspect ${dag_id#ingest_} <entity>"
