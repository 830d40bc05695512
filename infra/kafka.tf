# The Kafka the platform publishes to: an Event Hubs namespace with its Kafka endpoint (port 9093, Entra ID tokens over
# SASL OAUTHBEARER), or an existing cluster named by kafka.bootstrap_servers, for which nothing is created here.

locals {
  event_hubs = var.kafka.mode == "event_hubs"
}

resource "azurerm_eventhub_namespace" "kafka" {
  count = local.event_hubs ? 1 : 0

  name                = "evhns-ingest-${var.environment}-${substr(sha1(azurerm_resource_group.platform.id), 0, 6)}"
  resource_group_name = azurerm_resource_group.platform.name
  location            = azurerm_resource_group.platform.location
  # Premium or Dedicated: the publisher commits each run's messages in a Kafka transaction.
  sku      = var.kafka.eventhubs_sku
  capacity = var.kafka.eventhubs_units

  # Entra ID only: no shared access keys to leak or rotate.
  local_authentication_enabled  = false
  public_network_access_enabled = true
  minimum_tls_version           = "1.2"

  network_rulesets {
    default_action                 = "Deny"
    trusted_service_access_enabled = true
    public_network_access_enabled  = true

    dynamic "virtual_network_rule" {
      for_each = var.allowed_subnet_ids
      content {
        subnet_id = virtual_network_rule.value
      }
    }

    dynamic "ip_rule" {
      for_each = var.allowed_ip_ranges
      content {
        ip_mask = ip_rule.value
        action  = "Allow"
      }
    }
  }

  tags = local.tags
}

# Data Owner, not only Sender: the publisher creates its topics (kafka.partitions, replication_factor) and reads their
# end offsets through the Kafka admin API, which Event Hubs grants with the manage right only.
resource "azurerm_role_assignment" "airflow_publishes" {
  count = local.event_hubs ? 1 : 0

  scope                = azurerm_eventhub_namespace.kafka[0].id
  role_definition_name = "Azure Event Hubs Data Owner"
  principal_id         = azurerm_user_assigned_identity.airflow.principal_id
  principal_type       = "ServicePrincipal"
}
