# terraform plan -var-file=env/prod.tfvars (after terraform init -backend-config=backend/prod.hcl).
# Ids that differ per tenant (sensitive_readers_group_object_id, consumer_principal_ids, aks_oidc_issuer_url,
# allowed_subnet_ids) come from the GitHub environment as TF_VAR_* variables.
environment              = "prod"
location                 = "westeurope"
resource_group_name      = "rg-ingest-prod"
storage_account_name     = "stingestlakeprod"
storage_replication_type = "GZRS"
soft_delete_days         = 14
key_vault_name           = "kv-ingest-prod"
log_retention_days       = 365

kafka = {
  mode            = "event_hubs"
  eventhubs_sku   = "Premium"
  eventhubs_units = 2
}

tags = {
  cost_center = "data-platform"
}
