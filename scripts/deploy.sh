#!/usr/bin/env bash
# Deploys one image to one environment's Airflow on Kubernetes, and proves it works; called by the deploy workflow.
#   scripts/deploy.sh <dev|prod> <image repository> <image digest sha256:...>
# Steps: the pre-deploy gates (configs valid and DAGs importing with the environment's overlay), `helm upgrade
# --install --atomic --wait` of the official Airflow chart with deploy/helm/values-<env>.yaml and that digest, then,
# through Airflow's REST API, waiting until the new DAG files are parsed with no import errors and running
# `platform_smoke_check` to success. A failure after the upgrade rolls the release back (`helm rollback`).
# Needs: kubectl and helm pointed at the cluster, the venv (bash scripts/bootstrap.sh venv), and the variables:
#   AIRFLOW_IDENTITY_CLIENT_ID  client id of the workload identity (terraform output airflow_identity_client_id)
#   KEY_VAULT_NAME              the environment's Key Vault; it holds the smoke user's password (deploy-smoke-password)
# Optional: AIRFLOW_NAMESPACE (airflow), AIRFLOW_RELEASE (airflow), AIRFLOW_CHART_VERSION, SMOKE_USER (deploy-smoke),
#   DEPLOY_TIMEOUT (helm, 20m), SMOKE_TIMEOUT_SECONDS (900).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[deploy] %s\n' "$*"; }
die() { printf '[deploy] FAILED: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 3 ]] || die "usage: scripts/deploy.sh <dev|prod> <image repository> <image digest>"
ENV=$1 REPOSITORY=$2 DIGEST=$3
[[ $ENV == dev || $ENV == prod ]] || die "environment must be dev or prod, not '$ENV'"
[[ $DIGEST =~ ^sha256:[0-9a-f]{64}$ ]] || die "image digest must be sha256:<64 hex>, not '$DIGEST' (deploy by digest, never by tag)"
VALUES=deploy/helm/values-$ENV.yaml
[[ -f $VALUES ]] || die "$VALUES not found"
: "${AIRFLOW_IDENTITY_CLIENT_ID:?set AIRFLOW_IDENTITY_CLIENT_ID (client id of the workload identity)}"
: "${KEY_VAULT_NAME:?set KEY_VAULT_NAME (Key Vault of the environment)}"
NAMESPACE=${AIRFLOW_NAMESPACE:-airflow}
RELEASE=${AIRFLOW_RELEASE:-airflow}
# Pinned, never floating. Not verified here against Airflow 3.3.2 (the chart cannot be downloaded on the build
# machines): check its release notes for the Airflow versions it supports when changing either.
CHART_VERSION=${AIRFLOW_CHART_VERSION:-1.19.0}
PY=.venv/bin/python
for tool in helm kubectl az; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ -x $PY ]] || die "$PY not found: run bash scripts/bootstrap.sh venv"

# --- Pre-deploy gates: the same checks CI runs, with this environment's overlay ---------------------------------
say "gate: source configs valid with the $ENV overlay"
scripts/ingest --env "$ENV" validate || die "scripts/ingest --env $ENV validate"
say "gate: DAG integrity with INGEST_ENV=$ENV"
# The parse checks only: the shape tests of tests/dags assert the dev overlay's retries.
INGEST_ENV=$ENV "$PY" -m pytest -q -p no:cacheprovider tests/dags/test_dag_integrity.py \
  -k "test_no_import_errors or test_every_sample_config_builds_its_dag" || die "DAG integrity with INGEST_ENV=$ENV"

# --- Upgrade ------------------------------------------------------------------------------------------------------
had_release=false
helm status "$RELEASE" --namespace "$NAMESPACE" >/dev/null 2>&1 && had_release=true
# A Job's pod template cannot change: the previous release's migration Job goes before the new one is created.
drop_migration_job() {
  kubectl delete job --namespace "$NAMESPACE" -l "release=$RELEASE,component=run-airflow-migrations" \
    --ignore-not-found --wait=true
}
drop_migration_job || die "kubectl cannot reach the cluster (namespace $NAMESPACE)"
deployed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "helm upgrade $RELEASE (chart $CHART_VERSION) with $REPOSITORY@$DIGEST"
annotation='serviceAccount.annotations.azure\.workload\.identity/client-id'
helm repo add apache-airflow https://airflow.apache.org >/dev/null
helm repo update apache-airflow >/dev/null
# --atomic: a failed install or upgrade (a pod that never gets ready, a failed migration Job) is rolled back by Helm.
helm upgrade --install "$RELEASE" apache-airflow/airflow --version "$CHART_VERSION" \
  --namespace "$NAMESPACE" --create-namespace \
  --values "$VALUES" \
  --set-string "images.airflow.repository=$REPOSITORY" \
  --set-string "images.airflow.digest=$DIGEST" \
  --set-string "scheduler.$annotation=$AIRFLOW_IDENTITY_CLIENT_ID" \
  --atomic --wait --wait-for-jobs --timeout "${DEPLOY_TIMEOUT:-20m}" \
  || die "helm upgrade (Helm rolled the release back)"

# --- Post-deploy: DAGs parsed, smoke check green; otherwise roll back -----------------------------------------------
rollback() {
  if [[ $had_release == true ]]; then
    say "rolling $RELEASE back to the previous revision"
    drop_migration_job
    helm rollback "$RELEASE" --namespace "$NAMESPACE" --wait --timeout "${DEPLOY_TIMEOUT:-20m}" \
      || say "helm rollback failed too: see docs/deployment.md#rollback"
  else
    say "first install of $RELEASE: nothing to roll back to; the release stays for inspection"
  fi
}
port=18080
kubectl port-forward --namespace "$NAMESPACE" "svc/$RELEASE-api-server" "$port:8080" >/dev/null 2>&1 &
forward_pid=$!
trap 'kill "$forward_pid" 2>/dev/null || true' EXIT
SMOKE_PASSWORD=$(az keyvault secret show --vault-name "$KEY_VAULT_NAME" --name deploy-smoke-password \
  --query value --output tsv) || { rollback; die "could not read deploy-smoke-password from Key Vault $KEY_VAULT_NAME"; }
export SMOKE_PASSWORD
if ! "$PY" scripts/airflow_smoke.py --api "http://127.0.0.1:$port" --user "${SMOKE_USER:-deploy-smoke}" \
    --parsed-after "$deployed_at" --timeout "${SMOKE_TIMEOUT_SECONDS:-900}"; then
  rollback
  die "post-deploy checks on $ENV (the release was rolled back)"
fi
say "$ENV runs $REPOSITORY@$DIGEST; platform_smoke_check succeeded"
