# terraform init -backend-config=backend/dev.hcl: where the dev state lives. The state account is created once, by
# hand or by a bootstrap configuration, before the first init (it cannot hold its own state).
resource_group_name  = "rg-ingest-tfstate"
storage_account_name = "stingesttfstate"
container_name       = "tfstate"
key                  = "ingest/dev.tfstate"
use_azuread_auth     = true
