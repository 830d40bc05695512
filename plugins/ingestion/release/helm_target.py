"""The Kubernetes deployment target: the official Apache Airflow Helm chart with deploy/helm/values-<env>.yaml and
the image by digest, `helm upgrade --install --atomic --wait --wait-for-jobs` (a failed migration Job or a pod that
never gets ready is rolled back by Helm itself), the REST API through `kubectl port-forward`, and `helm rollback`
when the post-deploy checks fail.

Needs helm, kubectl and az on PATH, pointed at the cluster and signed in, and the variables
AIRFLOW_IDENTITY_CLIENT_ID (client id of the workload identity, terraform output airflow_identity_client_id) and
KEY_VAULT_NAME (holds the smoke user's password, secret deploy-smoke-password). Optional: AIRFLOW_NAMESPACE
(airflow), AIRFLOW_RELEASE (airflow), AIRFLOW_CHART_VERSION, SMOKE_USER (deploy-smoke), DEPLOY_TIMEOUT (helm, 20m).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.release.airflow_api import AirflowApi
from ingestion.release.errors import DeployStepError

# Pinned, never floating. Not verified here against Airflow 3.3.2 (the chart cannot be downloaded on the build
# machines): check its release notes for the Airflow versions it supports when changing either.
CHART_VERSION = "1.19.0"
CHART = "apache-airflow/airflow"
CHART_REPO = "https://airflow.apache.org"
FORWARD_PORT = 18080
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IDENTITY_ANNOTATION = r"serviceAccount.annotations.azure\.workload\.identity/client-id"
KEY_VAULT_BACKEND = "airflow.providers.microsoft.azure.secrets.key_vault.AzureKeyVaultBackend"


def read_connections_from_key_vault(key_vault: str) -> None:
    """This process reads Airflow connections (control_db for the release record, the alert channels) from the
    environment's Key Vault, with the prefixes of deploy/helm/values-<env>.yaml and the signed-in az CLI's identity;
    unless a secrets backend is configured already."""
    if os.environ.get("AIRFLOW__SECRETS__BACKEND"):
        return
    os.environ["AIRFLOW__SECRETS__BACKEND"] = KEY_VAULT_BACKEND
    os.environ["AIRFLOW__SECRETS__BACKEND_KWARGS"] = json.dumps(
        {
            "connections_prefix": "airflow-connections",
            "variables_prefix": "airflow-variables",
            "vault_url": f"https://{key_vault}.vault.azure.net/",
        }
    )


def _run(*command: str, what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # helm's and kubectl's errors name resources, not secrets; the tail is enough to act on.
        raise DeployStepError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    return done.stdout


@dataclass
class HelmTarget:
    environment: str
    repository: str
    digest: str
    identity_client_id: str
    key_vault: str
    namespace: str = "airflow"
    release_name: str = "airflow"
    chart_version: str = CHART_VERSION
    smoke_user: str = "deploy-smoke"
    helm_timeout: str = "20m"
    kind: str = "helm"
    verifies_rollback: bool = False  # the pods are replaced: Helm's --wait is the check
    had_release: bool = False
    tree: Path = field(default_factory=Path.cwd)
    _forward: subprocess.Popen[bytes] | None = None
    _password: str | None = None

    @classmethod
    def from_environment(cls, environment: str, repository: str, digest: str) -> HelmTarget:
        if not DIGEST.match(digest):
            raise DeployStepError(
                f"image digest must be sha256:<64 hex> (deploy by digest, never by tag), not {digest!r}"
            )
        missing = [tool for tool in ("helm", "kubectl", "az") if shutil.which(tool) is None]
        if missing:
            raise DeployStepError(f"not on PATH: {', '.join(missing)}")
        needed = {name: os.environ.get(name, "") for name in ("AIRFLOW_IDENTITY_CLIENT_ID", "KEY_VAULT_NAME")}
        if unset := [name for name, value in needed.items() if not value]:
            raise DeployStepError(f"set {', '.join(unset)}")
        read_connections_from_key_vault(needed["KEY_VAULT_NAME"])
        return cls(
            environment=environment,
            repository=repository,
            digest=digest,
            identity_client_id=needed["AIRFLOW_IDENTITY_CLIENT_ID"],
            key_vault=needed["KEY_VAULT_NAME"],
            namespace=os.environ.get("AIRFLOW_NAMESPACE", "airflow"),
            release_name=os.environ.get("AIRFLOW_RELEASE", "airflow"),
            chart_version=os.environ.get("AIRFLOW_CHART_VERSION", CHART_VERSION),
            smoke_user=os.environ.get("SMOKE_USER", "deploy-smoke"),
            helm_timeout=os.environ.get("DEPLOY_TIMEOUT", "20m"),
        )

    @property
    def values_file(self) -> Path:
        return self.tree / "deploy" / "helm" / f"values-{self.environment}.yaml"

    def prepare(self, release: object) -> Path:
        self.tree = Path(getattr(release, "tree", self.tree))
        if not self.values_file.is_file():
            raise DeployStepError(f"{self.values_file} not found")
        status = subprocess.run(
            ["helm", "status", self.release_name, "--namespace", self.namespace], capture_output=True, check=False
        )
        self.had_release = status.returncode == 0
        return self.tree

    def _drop_migration_job(self) -> None:
        # A Job's pod template cannot change: the previous release's migration Job goes before the new one is made.
        _run(
            "kubectl", "delete", "job", "--namespace", self.namespace,
            "-l", f"release={self.release_name},component=run-airflow-migrations",
            "--ignore-not-found", "--wait=true",
            what=f"kubectl (namespace {self.namespace})",
        )  # fmt: skip

    def apply(self) -> None:
        self._drop_migration_job()
        _run("helm", "repo", "add", "apache-airflow", CHART_REPO, "--force-update", what="helm repo add")
        _run("helm", "repo", "update", "apache-airflow", what="helm repo update")
        _run(
            "helm", "upgrade", "--install", self.release_name, CHART, "--version", self.chart_version,
            "--namespace", self.namespace, "--create-namespace",
            "--values", str(self.values_file),
            "--set-string", f"images.airflow.repository={self.repository}",
            "--set-string", f"images.airflow.digest={self.digest}",
            "--set-string", f"scheduler.{IDENTITY_ANNOTATION}={self.identity_client_id}",
            "--atomic", "--wait", "--wait-for-jobs", "--timeout", self.helm_timeout,
            what="helm upgrade (Helm rolled the release back)",
        )  # fmt: skip

    def _smoke_password(self) -> str:
        if self._password is None:
            self._password = _run(
                "az", "keyvault", "secret", "show", "--vault-name", self.key_vault, "--name", "deploy-smoke-password",
                "--query", "value", "--output", "tsv",
                what=f"reading deploy-smoke-password from Key Vault {self.key_vault}",
            ).strip()  # fmt: skip
        return self._password

    def api(self, deadline: float) -> AirflowApi:
        if self._forward is not None:
            self._forward.terminate()
            self._forward.wait(timeout=30)
        self._forward = subprocess.Popen(
            [
                "kubectl", "port-forward", "--namespace", self.namespace,
                f"svc/{self.release_name}-api-server", f"{FORWARD_PORT}:8080",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return AirflowApi(
            f"http://127.0.0.1:{FORWARD_PORT}", self.smoke_user, self._smoke_password(), connect_deadline=deadline
        )

    def rollback(self) -> bool:
        if not self.had_release:
            return False
        self._drop_migration_job()
        _run(
            "helm", "rollback", self.release_name, "--namespace", self.namespace, "--wait",
            "--timeout", self.helm_timeout,
            what="helm rollback (see docs/deployment.md#rollback)",
        )  # fmt: skip
        return True

    def finish(self) -> None:
        if self._forward is not None:
            self._forward.terminate()
