# Airflow's workload identity and who may read what:
# the platform writes both kinds of container; only the named group reads the sensitive ones; consumers read landing.

resource "azurerm_user_assigned_identity" "airflow" {
  name                = "id-airflow-${var.environment}"
  resource_group_name = azurerm_resource_group.platform.name
  location            = azurerm_resource_group.platform.location
  tags                = local.tags
}

# Airflow's pods get tokens for this identity through the cluster's OIDC issuer (no secret to rotate).
resource "azurerm_federated_identity_credential" "airflow" {
  name                = "airflow-${var.environment}"
  resource_group_name = azurerm_resource_group.platform.name
  parent_id           = azurerm_user_assigned_identity.airflow.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.airflow_namespace}:${var.airflow_service_account}"
}

locals {
  # One assignment per container and consumer, keyed by names known at plan time.
  consumer_reads = {
    for pair in setproduct(local.lake.landing_containers, keys(var.consumer_principal_ids)) :
    "${pair[0]}/${pair[1]}" => { container = pair[0], principal_id = var.consumer_principal_ids[pair[1]] }
  }
}

resource "azurerm_role_assignment" "airflow_writes_lake" {
  for_each = azurerm_storage_container.lake

  scope                = each.value.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.airflow.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "sensitive_readers" {
  for_each = toset(local.lake.sensitive_containers)

  scope                = azurerm_storage_container.lake[each.key].id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = var.sensitive_readers_group_object_id
  principal_type       = "Group"
}

resource "azurerm_role_assignment" "consumers_read_landing" {
  for_each = local.consumer_reads

  scope                = azurerm_storage_container.lake[each.value.container].id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = each.value.principal_id
}
