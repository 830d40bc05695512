#!/usr/bin/env bash
# Signs the Azure CLI in as the workflow's identity by OpenID Connect: GitHub issues a short-lived token for this job
# (the job needs `permissions: id-token: write`), Entra ID exchanges it through the identity's federated credential.
# No client secret exists anywhere. Needs AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID (not secrets).
set -euo pipefail
: "${AZURE_CLIENT_ID:?}" "${AZURE_TENANT_ID:?}" "${AZURE_SUBSCRIPTION_ID:?}"
: "${ACTIONS_ID_TOKEN_REQUEST_URL:?no OIDC token here: the job needs permissions id-token: write}"
token=$(curl -sSf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange" | jq -r .value)
echo "::add-mask::$token"
az login --service-principal --username "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID" \
  --federated-token "$token" --output none
az account set --subscription "$AZURE_SUBSCRIPTION_ID"
echo "[azure] signed in as $AZURE_CLIENT_ID"
