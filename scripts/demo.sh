#!/usr/bin/env bash
# `make demo`: bring the local stack up, run the sample DAGs with Airflow on the stack's Postgres metadata DB (the one
# `make airflow` serves: its UI shows these runs), print a summary, and unpause the sample DAGs.
# The stack stays up afterwards so you can look around (`make airflow` for the UI); `make stack-down` stops it.
# DEMO_DAGS lists `dag_id` or `dag_id@logical_date`: ingest_crm runs the day of the seeded orders (2026-11-02),
# so its interval entity has rows to load; ingest_orders_api reads the sample API, ingest_partner_files the files
# seeded on the SFTP server. Run again, the incremental entities find nothing new (their watermarks have moved).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[demo] %s\n' "$*"; }
PY=.venv/bin/python
DEMO_DAGS=(${DEMO_DAGS:-platform_smoke_check ingest_crm@2026-11-03T02:00:00+00:00 ingest_orders_api@2026-11-21T00:00:00+00:00 ingest_partner_files@2026-11-21T06:00:00+00:00})

"$PY" -m stack up || { say "FAILED: the local stack did not come up (the service is named above)"; exit 1; }
set -a; source "${STACK_STATE_DIR:-.stack}/env"; set +a
source scripts/airflow_env.sh
# `airflow dags test` evaluates no deadlines, and in Airflow 3.3.2 a DAG with one crashes it after the run (the run's
# metadata is rolled back). Deadlines are for the scheduler; the demo builds its DAGs without them.
export INGEST_DEADLINES=off
mkdir -p "$AIRFLOW_HOME/demo"

say "preparing the Airflow metadata DB (the stack's Postgres, as make airflow)"
.venv/bin/airflow db migrate > "$AIRFLOW_HOME/demo/db-migrate.log" 2>&1 \
  || { tail -20 "$AIRFLOW_HOME/demo/db-migrate.log"; say "FAILED: airflow db migrate"; exit 1; }
# The stages only check the control DB's schema revision; a deploy (here: the demo) upgrades it first. Idempotent.
say "upgrading the control DB schema (scripts/ingest db upgrade)"
scripts/ingest db upgrade > "$AIRFLOW_HOME/demo/control-db-upgrade.log" 2>&1 \
  || { cat "$AIRFLOW_HOME/demo/control-db-upgrade.log"; say "FAILED: scripts/ingest db upgrade"; exit 1; }

failed=0
dag_ids=()
for entry in "${DEMO_DAGS[@]}"; do
  dag_id=${entry%%@*}
  logical_date=()
  [[ $entry == *@* ]] && logical_date=("${entry#*@}")
  dag_ids+=("$dag_id")
  log="$AIRFLOW_HOME/demo/$dag_id.log"
  say "running $dag_id ${logical_date[*]} (airflow dags test; log: $log)"
  if ! .venv/bin/airflow dags test "$dag_id" "${logical_date[@]}" > "$log" 2>&1; then
    say "$dag_id FAILED; last lines of its log:"; tail -25 "$log"; failed=1
  fi
done
"$PY" scripts/demo_summary.py "${dag_ids[@]}" || failed=1
say "scripts/ingest status (control DB: freshness, rows, watermarks, failing checks)"
scripts/ingest status || true  # exits 1 when something is late or failing: information here, not a demo failure
# Locally the sample DAGs run on their schedules once `make airflow` is up; a deployment keeps Airflow's default (a new
# DAG is paused until someone unpauses it).
sample_dags=()
for dag_id in "${dag_ids[@]}"; do [[ $dag_id == ingest_* ]] && sample_dags+=("$dag_id"); done
if ((${#sample_dags[@]})); then
  say "unpausing ${sample_dags[*]} (local only)"
  for dag_id in "${sample_dags[@]}"; do
    .venv/bin/airflow dags unpause "$dag_id" >> "$AIRFLOW_HOME/demo/unpause.log" 2>&1 \
      || { tail -5 "$AIRFLOW_HOME/demo/unpause.log"; say "FAILED: airflow dags unpause $dag_id"; failed=1; }
  done
fi
say "stack is still running: make stack-status | make airflow (web UI) | make stack-down"
exit $failed
