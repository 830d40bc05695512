"""A secrets backend that is down: every connection lookup raises, as a Vault or a cloud secrets manager does in an
outage. Configured with `AIRFLOW__SECRETS__BACKEND=tests.integration.state.unreachable_secrets_backend.
UnreachableSecretsBackend` (the repository root on PYTHONPATH)."""

from __future__ import annotations

from airflow.sdk.bases.secrets_backend import BaseSecretsBackend


class UnreachableSecretsBackend(BaseSecretsBackend):
    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        raise ConnectionError("secrets.internal:8200: connection timed out")

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        return None
