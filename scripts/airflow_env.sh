# Sourced by the demo and `make airflow`: one Airflow configuration for local runs.
# AIRFLOW_HOME is .airflow/ in the repo; metadata in the local stack's Postgres (its `airflow` database, the one
# `make airflow` serves, so the UI shows the demo's runs) unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is set.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AIRFLOW_HOME=${AIRFLOW_HOME:-$REPO/.airflow}
# Served from the working tree; with INGEST_BUNDLE_ROOT, from its `current` release, which `scripts/deploy.sh local`
# switches (the working tree is served as the first release when there is none).
SERVED=$REPO
if [[ -n ${INGEST_BUNDLE_ROOT:-} ]]; then
  INGEST_BUNDLE_ROOT=$(realpath -m "$INGEST_BUNDLE_ROOT")
  PYTHONPATH=$REPO/plugins "$REPO/.venv/bin/python" -m ingestion.release.local_bundle "$INGEST_BUNDLE_ROOT" "$REPO" >/dev/null
  SERVED=$INGEST_BUNDLE_ROOT/current
  export INGEST_CONFIG_DIR=$SERVED/include/source_configs
fi
export AIRFLOW__CORE__DAGS_FOLDER=$SERVED/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$SERVED/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-postgresql+psycopg://ingest:ingest@127.0.0.1:${STACK_POSTGRES_PORT:-25432}/airflow}
export PYTHONPATH=$SERVED/plugins${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$AIRFLOW_HOME"
