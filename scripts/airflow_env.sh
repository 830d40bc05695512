# Sourced by the demo and `make airflow`: one Airflow configuration for local runs.
# AIRFLOW_HOME is .airflow/ in the repo; metadata on SQLite unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is set.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AIRFLOW_HOME=${AIRFLOW_HOME:-$REPO/.airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-4}
export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}
export PYTHONPATH=$REPO/plugins${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$AIRFLOW_HOME"
