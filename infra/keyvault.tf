# Airflow's secrets backend: connections, variables and the PII hashing keys, read with Airflow's workload identity.

data "azurerm_client_config" "current" {}

resource "azurerm_key_vault" "platform" {
  #checkov:skip=CKV2_AZURE_32:Reached through network_acls (default Deny, the Airflow subnets); private endpoints and their DNS zones belong to the network, outside this module.
  #checkov:skip=CKV_AZURE_189:Public network access stays on so the firewall rules (the Airflow subnets, allowed_ip_ranges) apply; network_acls deny everything else.
  name                = var.key_vault_name
  resource_group_name = azurerm_resource_group.platform.name
  location            = azurerm_resource_group.platform.location
  tenant_id           = data.azurerm_client_config.current.tenant_id
  sku_name            = "standard"

  # Access is granted with Azure RBAC role assignments, not vault access policies.
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90

  network_acls {
    default_action             = "Deny"
    bypass                     = "AzureServices"
    virtual_network_subnet_ids = var.allowed_subnet_ids
    ip_rules                   = var.allowed_ip_ranges
  }

  tags = local.tags
}

resource "azurerm_role_assignment" "airflow_reads_secrets" {
  scope                = azurerm_key_vault.platform.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.airflow.principal_id
  principal_type       = "ServicePrincipal"
}
