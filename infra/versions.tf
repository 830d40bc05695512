terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 4.x from the release with everything used here (containers by storage_account_id, the storage feature
      # data_plane_available, enabled_metric in diagnostic settings); never 5.x without a review.
      version = "~> 4.31"
    }
  }

  # Partial configuration: the state's storage account comes from backend/<env>.hcl at init
  # (terraform init -backend-config=backend/prod.hcl), so one set of files serves every environment.
  backend "azurerm" {}
}

provider "azurerm" {
  # The subscription comes from ARM_SUBSCRIPTION_ID, the credentials from the workflow's OIDC login.
  features {
    storage {
      # The lake's firewall denies the deploy runners' data-plane calls; no queue or static website is managed.
      data_plane_available = false
    }
    key_vault {
      # Purge protection forbids a purge anyway; a destroyed vault stays recoverable for its retention.
      purge_soft_delete_on_destroy = false
    }
  }
  # Shared keys are off on the lake: any data-plane call signs in with Entra ID, never with a key.
  storage_use_azuread = true
}
