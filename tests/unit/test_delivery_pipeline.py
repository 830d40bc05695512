"""The delivery rules the workflows and the Helm values must keep (docs/deployment.md#delivery-pipeline).

CI runs every check on every change, with the README's test command as one job and no service containers; the deploy
workflow builds the image once, on dev, and Prod gets the digest that passed Dev, in a job bound to the `prod`
environment (whose required reviewers hold it); Azure sign-in is OIDC only where a job needs it; no stored secret;
every action pinned to a commit. The Helm values of both environments read secrets from Key Vault and run the FAB
auth manager. actionlint and zizmor check the workflows' syntax and security in `make test`; this checks the rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
HELM = REPO / "deploy" / "helm"
ENVS = ["dev", "prod"]
KEY_VAULT_BACKEND = "airflow.providers.microsoft.azure.secrets.key_vault.AzureKeyVaultBackend"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def all_jobs() -> list[Any]:
    return [
        pytest.param(path.name, name, job, id=f"{path.name}:{name}")
        for path in (CI, DEPLOY)
        for name, job in load(path)["jobs"].items()
    ]


def test_ci_runs_on_every_pull_request_and_on_pushes_to_both_branches() -> None:
    on = load(CI)["on"]
    assert "pull_request" in on
    assert not (on["pull_request"] or {}).get("branches")
    assert on["push"]["branches"] == ["dev", "main"]


def test_ci_runs_the_readme_test_command_on_its_own_native_stack() -> None:
    jobs = load(CI)["jobs"]
    (make_test,) = [job for job in jobs.values() if "bash .ci/run" in runs(job)]
    assert make_test["runs-on"].startswith("ubuntu-")
    # The suite starts and stops its own services: a service container is one it cannot stop.
    assert not [name for name, job in jobs.items() if "services" in job]
    assert "stack up" not in runs(make_test)
    assert "stack down" not in runs(make_test)
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("exec make test")


def test_every_ci_job_that_runs_the_unit_tests_fetches_the_adaptive_card_schema_first() -> None:
    unit_jobs = [job for job in load(CI)["jobs"].values() if "pytest tests/unit" in runs(job)]
    assert unit_jobs
    for job in unit_jobs:
        script = runs(job)
        bootstrap = re.search(r"bash scripts/bootstrap\.sh( [a-z ]+)?\n", script + "\n")
        assert bootstrap
        assert bootstrap.start() < script.index("pytest tests/unit")
        steps = (bootstrap.group(1) or "").split()
        assert not steps or "schema" in steps  # no step named: all of them


def test_ci_has_the_fast_checks_by_name() -> None:
    script = "\n".join(runs(job) for job in load(CI)["jobs"].values())
    for command in [
        "ruff check .",
        "ruff format --check .",
        ".venv/bin/mypy",
        "lint-imports",
        ".tools/bin/actionlint",
        "zizmor --offline .github/workflows",
        "pytest tests/unit tests/dags",
        "scripts/ingest --env dev validate",
        "scripts/ingest --env prod validate",
        "docker build",
        "pip_audit --strict",
        "terraform -chdir=infra fmt -check",
        "terraform -chdir=infra validate",
        "-var-file=env/dev.tfvars",
    ]:
        assert command in script, command


def test_deploy_runs_on_pushes_to_dev_and_main_only() -> None:
    workflow = load(DEPLOY)
    assert workflow["on"] == {"push": {"branches": ["dev", "main"]}}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_the_image_is_built_once_on_dev_and_deployed_there_by_digest() -> None:
    jobs = load(DEPLOY)["jobs"]
    builders = [name for name, job in jobs.items() if "docker build" in runs(job)]
    assert builders == ["build"]
    assert jobs["build"]["if"] == "github.ref_name == 'dev'"
    assert "$image:$GITHUB_SHA" in runs(jobs["build"])
    assert "digest=" in runs(jobs["build"])
    dev = jobs["deploy-dev"]
    assert dev["needs"] == "build"
    assert dev["environment"]["name"] == "dev"
    assert dev["env"]["DIGEST"] == "${{ needs.build.outputs.digest }}"
    assert 'scripts/deploy.sh "$DEPLOY_ENV"' in runs(dev)
    assert dev["env"]["DEPLOY_ENV"] == "dev"
    # Only a digest that passed Dev's smoke check is marked for Prod, by the tree it was built from.
    script = runs(dev)
    assert script.index("scripts/deploy.sh") < script.index("dev-verified-$tree")


def test_prod_deploys_the_digest_that_passed_dev_after_approval_without_rebuilding() -> None:
    jobs = load(DEPLOY)["jobs"]
    prod_jobs = [name for name, job in jobs.items() if "prod" in json.dumps(job.get("environment", ""))]
    assert prod_jobs == ["deploy-prod"]
    prod = jobs["deploy-prod"]
    assert prod["environment"]["name"] == "prod"
    assert prod["if"] == "github.ref_name == 'main'"
    assert "needs" not in prod  # nothing built on main
    script = runs(prod)
    assert "docker build" not in script
    assert "docker push" not in script
    assert '--image "$IMAGE_NAME:dev-verified-$tree"' in script
    (deploy_step,) = [step for step in prod["steps"] if "scripts/deploy.sh" in step.get("run", "")]
    assert deploy_step["env"]["DIGEST"] == "${{ steps.promoted.outputs.digest }}"
    assert prod["env"]["DEPLOY_ENV"] == "prod"
    assert "-backend-config=backend/prod.hcl" in script
    assert "-var-file=env/prod.tfvars" in script


@pytest.mark.parametrize(("workflow", "job_name", "job"), all_jobs())
def test_oidc_token_only_for_jobs_that_sign_in_to_azure(workflow: str, job_name: str, job: dict[str, Any]) -> None:
    signs_in = "scripts/azure_login.sh" in runs(job) or "ARM_USE_OIDC" in job.get("env", {})
    permissions = job.get("permissions", load(WORKFLOWS / workflow).get("permissions"))
    assert (permissions.get("id-token") == "write") == signs_in, f"{workflow}: {job_name}"
    assert set(permissions.values()) <= {"read", "write"}
    assert permissions.get("contents") == "read"


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_no_stored_secret_and_every_action_pinned_to_a_commit(path: Path) -> None:
    text = path.read_text()
    # Cloud sign-in is OIDC: identities are variables (ids, not credentials), and no job reads a GitHub secret.
    assert "secrets." not in text
    assert not re.search(r"CLIENT_SECRET|ARM_ACCESS_KEY|creds:", text)
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), f"{path.name}: {name}: {step['uses']}"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{path.name}: {name}"


def helm_values(env: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((HELM / f"values-{env}.yaml").read_text())
    return values


def tfvar(env: str, name: str) -> str:
    match = re.search(rf'^{name}\s*=\s*"([^"]+)"', (REPO / "infra" / "env" / f"{env}.tfvars").read_text(), re.M)
    assert match, f"infra/env/{env}.tfvars: {name}"
    return match.group(1)


@pytest.mark.parametrize("env", ENVS)
def test_helm_values_read_secrets_from_the_environments_key_vault(env: str) -> None:
    config = helm_values(env)["config"]
    assert config["secrets"]["backend"] == KEY_VAULT_BACKEND
    kwargs = json.loads(config["secrets"]["backend_kwargs"])
    assert kwargs["connections_prefix"] == "airflow-connections"
    assert kwargs["variables_prefix"] == "airflow-variables"
    assert kwargs["vault_url"] == f"https://{tfvar(env, 'key_vault_name')}.vault.azure.net/"
    # Airflow's own secrets come from the vault too (config_prefix), not from Kubernetes Secrets of the chart.
    assert kwargs["config_prefix"] == "airflow-config"
    assert config["database"]["sql_alchemy_conn_secret"]
    assert config["core"]["fernet_key_secret"]
    assert config["api"]["secret_key_secret"]
    assert config["api_auth"]["jwt_secret_secret"]
    built_in = helm_values(env)["enableBuiltInSecretEnvVars"]
    assert not any(built_in[name] for name in ["AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])


@pytest.mark.parametrize("env", ENVS)
def test_helm_values_run_the_fab_auth_manager_and_the_environments_overlay(env: str) -> None:
    values = helm_values(env)
    dockerfile_auth = re.search(r"^ENV AIRFLOW__CORE__AUTH_MANAGER=(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert dockerfile_auth
    assert values["config"]["core"]["auth_manager"] == dockerfile_auth.group(1)
    assert {"name": "INGEST_ENV", "value": env} in values["env"]
    assert values["executor"] == "KubernetesExecutor"
    assert values["createUserJob"]["enabled"] is False  # no admin password in values


@pytest.mark.parametrize("env", ENVS)
def test_helm_values_migrate_then_upgrade_the_control_db_then_sync_team_roles(env: str) -> None:
    job = helm_values(env)["migrateDatabaseJob"]
    assert job["useHelmHooks"] is False  # `helm upgrade --wait` waits for it instead of deadlocking on it
    command = job["args"][-1]
    steps = [part.strip() for part in command.split("&&")]
    assert steps == ["airflow db migrate", "python -m ingestion db upgrade", "python -m ingestion access sync"]


@pytest.mark.parametrize("env", ENVS)
def test_every_airflow_pod_runs_as_the_service_account_infra_federates(env: str) -> None:
    values = helm_values(env)
    variables = (REPO / "infra" / "variables.tf").read_text()
    account = re.search(r'variable "airflow_service_account" \{.*?default\s*=\s*"([^"]+)"', variables, re.S)
    assert account
    for component in ["scheduler", "dagProcessor", "triggerer", "apiServer", "workers", "migrateDatabaseJob"]:
        assert values[component]["serviceAccount"]["name"] == account.group(1), component
    assert values["labels"]["azure.workload.identity/use"] == "true"


def test_the_helm_target_upgrades_atomically_by_digest_and_rolls_back() -> None:
    code = (REPO / "plugins" / "ingestion" / "release" / "helm_target.py").read_text()
    (upgrade,) = re.findall(r'"helm", "upgrade", "--install".*?what=', code, re.S)
    for flag in ["--atomic", "--wait", "--wait-for-jobs"]:
        assert f'"{flag}"' in upgrade, flag
    assert '"helm", "rollback"' in code
    assert "images.airflow.digest={self.digest}" in upgrade
    assert "images.airflow.tag" not in code


def test_the_deploy_script_runs_the_same_steps_for_every_target() -> None:
    script = (REPO / "scripts" / "deploy.sh").read_text()
    assert 'exec "$PY" -m ingestion.release.deploy "$@"' in script
    code = (REPO / "plugins" / "ingestion" / "release" / "deploy.py").read_text()
    run = code[code.index("    def run(self) -> int:") : code.index("    def _refused(")]
    steps = ["last_deployed", "run_gates", "self._open_record(", "target.apply()", "wait_served", "run_dag", "DEPLOYED"]
    order = [run.index(step) for step in steps]
    assert order == sorted(order)


def test_the_release_record_names_who_approved_prod_and_that_dev_is_automatic() -> None:
    jobs = load(DEPLOY)["jobs"]
    prod, dev = jobs["deploy-prod"], jobs["deploy-dev"]
    assert prod["permissions"]["actions"] == "read"  # the run's approvals API
    (approval,) = [step for step in prod["steps"] if step.get("id") == "approval"]
    assert "actions/runs/$GITHUB_RUN_ID/approvals" in approval["run"]
    (deploy_step,) = [step for step in prod["steps"] if "scripts/deploy.sh" in step.get("run", "")]
    assert deploy_step["env"]["DEPLOY_APPROVED_BY"] == "${{ steps.approval.outputs.approver }}"
    names = [step.get("name") for step in prod["steps"]]
    assert names.index("the approver") < names.index("deploy and smoke-test (scripts/deploy.sh)")
    (dev_deploy,) = [step for step in dev["steps"] if "scripts/deploy.sh" in step.get("run", "")]
    assert dev_deploy["env"]["DEPLOY_APPROVED_BY"].startswith("automatic")
