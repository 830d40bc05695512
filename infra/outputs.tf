output "storage_account_name" {
  description = "The lake's account: the Airflow connection lake_wasb points here (Entra ID, no key)."
  value       = azurerm_storage_account.lake.name
}

output "storage_dfs_endpoint" {
  description = "The lake's ADLS Gen2 endpoint."
  value       = azurerm_storage_account.lake.primary_dfs_endpoint
}

output "landing_containers" {
  description = "Containers of general (masked) data, readable by the consumers."
  value       = local.lake.landing_containers
}

output "sensitive_containers" {
  description = "Containers of raw PII, undeclared data and quarantined records, readable by the named group only."
  value       = local.lake.sensitive_containers
}

output "airflow_identity_client_id" {
  description = "Client id for Airflow's service account annotation azure.workload.identity/client-id."
  value       = azurerm_user_assigned_identity.airflow.client_id
}

output "key_vault_uri" {
  description = "vault_url of Airflow's Azure Key Vault secrets backend."
  value       = azurerm_key_vault.platform.vault_uri
}

output "kafka_bootstrap_servers" {
  description = "bootstrap.servers of the Airflow connection kafka_default."
  value       = local.event_hubs ? "${azurerm_eventhub_namespace.kafka[0].name}.servicebus.windows.net:9093" : var.kafka.bootstrap_servers
}

output "log_analytics_workspace_id" {
  description = "Resource id of the workspace the cluster's monitoring agent sends Airflow's logs and metrics to."
  value       = azurerm_log_analytics_workspace.platform.id
}
