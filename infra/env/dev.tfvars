# terraform plan -var-file=env/dev.tfvars (after terraform init -backend-config=backend/dev.hcl).
# Ids that differ per tenant (sensitive_readers_group_object_id, consumer_principal_ids, aks_oidc_issuer_url,
# allowed_subnet_ids) come from the GitHub environment as TF_VAR_* variables.
environment              = "dev"
location                 = "westeurope"
resource_group_name      = "rg-ingest-dev"
storage_account_name     = "stingestlakedev"
storage_replication_type = "ZRS"
key_vault_name           = "kv-ingest-dev"
log_retention_days       = 30

kafka = {
  mode            = "event_hubs"
  eventhubs_sku   = "Premium"
  eventhubs_units = 1
}

tags = {
  cost_center = "data-platform"
}
