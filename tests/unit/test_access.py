"""Access per team: the role each team gets from the configs, and what the role may do (in FAB's terms). The roles
working in a running Airflow are tested in tests/integration/test_team_access.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestion.access.fab_roles import (
    FAB_AUTH_MANAGER,
    RoleSync,
    dag_permissions,
    role_permissions,
    team_base_permissions,
)
from ingestion.access.teams import TeamAccess, team_access, team_role
from ingestion.config.loader import load_configs
from ingestion.config.models import SourceConfig
from tests.sample_configs import sample_config_dir

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sample_config_dir()


def _config(name: str, team: str) -> SourceConfig:
    crm = json.loads((CONFIGS / "crm.json").read_text())
    return SourceConfig.model_validate(dict(crm, name=name, owners={"primary": "p@example.com", "team": team}))


def test_one_role_per_team_with_its_dags_only() -> None:
    configs = [_config("orders", "sales"), _config("ledger", "finance"), _config("leads", "sales")]
    assert team_access(configs) == (
        TeamAccess(team="finance", role="team_finance", dag_ids=("ingest_ledger",)),
        TeamAccess(team="sales", role="team_sales", dag_ids=("ingest_leads", "ingest_orders")),
    )


def test_the_sample_configs_give_three_team_roles() -> None:
    loaded = load_configs(CONFIGS, "dev")
    assert [(a.role, a.dag_ids) for a in team_access(loaded.configs.values())] == [
        ("team_commerce-data", ("ingest_orders_api",)),
        ("team_crm-data", ("ingest_crm",)),
        ("team_partner-integrations", ("ingest_partner_files",)),
    ]


@pytest.mark.parametrize("team", ["Data Eng", "crm data", "-crm", "crm/data", "x" * 49])
def test_a_team_that_cannot_name_a_role_is_refused(team: str) -> None:
    with pytest.raises(ValueError, match=r"owners\.team"):
        _config("orders", team)


def test_team_roles_never_read_or_change_every_dag() -> None:
    base = team_base_permissions()
    for action in ("can_read", "can_edit", "can_delete"):
        assert (action, "DAGs") not in base
    # Creating asset events would start other teams' asset-scheduled DAGs.
    assert ("can_create", "Assets") not in base
    # No DAG-level permission comes with the role itself: those name the team's DAGs.
    assert not any(resource.startswith(("DAG:", "DAG Run:")) for _, resource in base)


def test_team_roles_can_trigger_clear_and_read_what_belongs_to_their_dags() -> None:
    base = team_base_permissions()
    # Airflow checks these together with the DAG's own permission (DAG:<dag_id>), so they reach only the team's DAGs.
    for needed in [
        ("can_create", "DAG Runs"),  # trigger, backfill
        ("can_edit", "DAG Runs"),
        ("can_edit", "Task Instances"),  # clear
        ("can_read", "Task Logs"),
        ("can_read", "XComs"),
        ("menu_access", "DAGs"),
    ]:
        assert needed in base, needed


def test_dag_permissions_read_and_edit_each_dag_but_never_delete() -> None:
    assert dag_permissions(["ingest_a", "ingest_b"]) == {
        ("can_read", "DAG:ingest_a"),
        ("can_edit", "DAG:ingest_a"),
        ("can_read", "DAG:ingest_b"),
        ("can_edit", "DAG:ingest_b"),
    }


def test_a_team_no_config_names_keeps_no_permission() -> None:
    assert role_permissions(None) == frozenset()
    access = TeamAccess(team="sales", role=team_role("sales"), dag_ids=("ingest_orders",))
    assert role_permissions(access) == team_base_permissions() | dag_permissions(["ingest_orders"])


def test_sync_report_says_what_changed() -> None:
    created = RoleSync("team_sales", ("ingest_orders",), created=True, granted=(("can_read", "DAG:x"),), revoked=())
    assert created.describe() == "team_sales: created (+1 -0 permissions); DAGs: ingest_orders"
    emptied = RoleSync("team_old", (), created=False, granted=(), revoked=(("can_read", "DAG:x"),))
    assert emptied.describe() == "team_old: updated (+0 -1 permissions); no config names this team any more"


def _ingest(*args: str, config_dir: Path = CONFIGS, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "ingest"), "--config-dir", str(config_dir), "access", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_access_show_needs_no_airflow_and_lists_broken_configs(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS, configs)
    broken: dict[str, Any] = json.loads((CONFIGS / "crm.json").read_text())
    (configs / "broken.json").write_text(json.dumps(dict(broken, name="broken", owners={"team": "Bad Team"})))
    done = _ingest("show", config_dir=configs)
    assert done.returncode == 1
    assert "team_crm-data (team crm-data): ingest_crm" in done.stdout
    assert "invalid, left out:" in done.stderr
    assert "broken.json: $.owners" in done.stderr


def test_access_sync_refuses_without_the_fab_auth_manager(tmp_path: Path) -> None:
    """Roles written while Airflow checks nothing against them would look like protection that is not there."""
    done = _ingest(
        "sync",
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/airflow.db",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "team roles need the FAB auth manager" in done.stderr
    assert "AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager" in (
        done.stderr
    )
    assert not (tmp_path / "airflow.db").exists()  # refused before touching a database


def test_access_teams_module_imports_no_airflow() -> None:
    code = (
        "import sys; sys.path.insert(0, 'plugins'); import ingestion.access.teams;"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_deployed_airflow_uses_the_fab_auth_manager_and_syncs_the_roles_after_migrating() -> None:
    """The image and docker-compose check requests against the team roles, and write them before anything serves."""
    assert f"ENV AIRFLOW__CORE__AUTH_MANAGER={FAB_AUTH_MANAGER}" in (REPO / "Dockerfile").read_text().splitlines()
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    assert compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    steps = [step.strip() for step in compose["services"]["airflow-init"]["command"][-1].split("&&")]
    assert steps[0] == "airflow db migrate"
    assert steps[-1] == "python -m ingestion access sync"
    assert any(step.startswith("airflow users create") and "--role Admin" in step for step in steps)
