# The lake: an ADLS Gen2 storage account with the landing (general) and sensitive containers the source configs name,
# and lifecycle rules generated from the configs' retention: the backstop of the retention DAG, so retention holds
# even when no DAG runs.

locals {
  # This environment's containers and rules, generated from the source configs (generated.auto.tfvars.json).
  lake = var.lake_by_environment[var.environment]
  tags = merge(var.tags, { environment = var.environment, managed_by = "terraform" })
}

resource "azurerm_resource_group" "platform" {
  name     = var.resource_group_name
  location = var.location
  tags     = local.tags
}

resource "azurerm_storage_account" "lake" {
  #checkov:skip=CKV2_AZURE_1:Encrypted with Microsoft-managed keys; a customer-managed key adds a key rotation duty no requirement asks for.
  #checkov:skip=CKV2_AZURE_33:Reached through network_rules (default Deny, the Airflow subnets); private endpoints and their DNS zones belong to the network, outside this module.
  #checkov:skip=CKV_AZURE_33:Queue service logging: the platform uses no queues.
  #checkov:skip=CKV_AZURE_59:Public network access stays on so the firewall rules (the Airflow subnets, allowed_ip_ranges) apply; network_rules deny everything else.
  name                     = var.storage_account_name
  resource_group_name      = azurerm_resource_group.platform.name
  location                 = azurerm_resource_group.platform.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type
  is_hns_enabled           = true

  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  # Airflow, consumers and Terraform all authenticate with Entra ID; no one needs the account keys.
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  infrastructure_encryption_enabled = true

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices", "Logging", "Metrics"]
    virtual_network_subnet_ids = var.allowed_subnet_ids
    ip_rules                   = var.allowed_ip_ranges
  }

  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_days
    }
  }

  sas_policy {
    expiration_period = "0.01:00:00"
    expiration_action = "Log"
  }

  tags = local.tags
}

resource "azurerm_storage_container" "lake" {
  #checkov:skip=CKV2_AZURE_21:Blob reads are logged by the diagnostic setting lake_blobs (StorageRead, monitoring.tf); storage insights would need an account key, and keys are off.
  for_each = toset(concat(local.lake.landing_containers, local.lake.sensitive_containers))

  name                  = each.key
  storage_account_id    = azurerm_storage_account.lake.id
  container_access_type = "private"
}

resource "azurerm_storage_management_policy" "lake" {
  storage_account_id = azurerm_storage_account.lake.id

  dynamic "rule" {
    for_each = local.lake.lifecycle_rules
    content {
      name    = rule.value.name
      enabled = true

      filters {
        prefix_match = rule.value.prefixes
        blob_types   = ["blockBlob"]
      }

      actions {
        base_blob {
          # Cool, not archive: a prefix cannot leave out the manifests, and they must stay readable. The
          # retention DAG moves the data files themselves to the archive tier.
          tier_to_cool_after_days_since_modification_greater_than = rule.value.tier_after_days
          delete_after_days_since_modification_greater_than       = rule.value.delete_after_days
        }
      }
    }
  }

  # The rules are addressed by path; the containers must exist before a rule names them.
  depends_on = [azurerm_storage_container.lake]
}
