"""Access per team through Airflow's own REST API: a real api-server with the FAB auth manager, the team roles
written by `ingest access sync` from the sample source configs, as a deploy does it (`airflow db migrate`, the
admin user, `access sync`, then the teams' users), and the DAGs serialized into the metadata DB.

crm-data owns `ingest_crm`, commerce-data owns `ingest_orders_api`. A team's user sees, triggers, clears and backfills
its own DAGs and gets 403 on every other DAG, reading included (other teams' DAGs are invisible, see
docs/deployment.md#access-per-team); an admin does everything on every DAG. One api-server serves the whole module.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ingestion.access.fab_roles import FAB_AUTH_MANAGER
from tests.integration.support import AIRFLOW_BIN, REPO, airflow_env, free_port
from tests.sample_configs import sample_config_dir

CONFIGS = sample_config_dir()  # the three sample teams and DAGs below, whatever else include/source_configs holds
USERS = {"crm_user": "team_crm-data", "commerce_user": "team_commerce-data", "admin": "Admin"}
OWN = {"crm_user": "ingest_crm", "commerce_user": "ingest_orders_api"}
EVERY_DAG = {
    "ingest_alerts",
    "ingest_crm",
    "ingest_orders_api",
    "ingest_partner_files",
    "ingest_retention",
    "platform_smoke_check",
}
# A backfill range with runs in it for each sample DAG (daily / every 30 minutes, from 2026-11-01).
CACHE_TTL = 2
BACKFILL_RANGE = {
    "ingest_crm": ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
    "ingest_orders_api": ("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"),
    "ingest_partner_files": ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
}


@dataclass
class Airflow:
    base: str
    env: dict[str, str]
    passwords: dict[str, str]

    def login(self, user: str) -> dict[str, str]:
        resp = requests.post(
            f"{self.base}/auth/token", json={"username": user, "password": self.passwords[user]}, timeout=30
        )
        assert resp.status_code == 201, f"{user}: {resp.status_code} {resp.text[:300]}"
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}


class UserApi:
    """One user's calls to /api/v2, answered with the response (status asserted by the test)."""

    def __init__(self, airflow: Airflow, user: str) -> None:
        self.api = f"{airflow.base}/api/v2"
        self.headers = airflow.login(user)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.api}{path}", headers=self.headers, timeout=30, **kwargs)

    def trigger(self, dag_id: str) -> requests.Response:
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})

    def backfill(self, dag_id: str) -> requests.Response:
        start, end = BACKFILL_RANGE[dag_id]
        body = {"dag_id": dag_id, "from_date": start, "to_date": end, "max_active_runs": 1}
        # The DAGs' tasks depend on the past: a backfill has to say what to do with runs that exist.
        return self.call("POST", "/backfills", json={**body, "reprocess_behavior": "completed"})


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def _create_user(env: dict[str, str], user: str, role: str, password: str) -> None:
    _run(
        env,
        # `--password=...`: a generated password may begin with "-", which would read as an option after a space.
        *(AIRFLOW_BIN, "users", "create", "--username", user, f"--password={password}", "--role", role),
        *("--firstname", user, "--lastname", "test", "--email", f"{user}@example.com"),
    )


def _sync(env: dict[str, str], config_dir: Path = CONFIGS) -> str:
    return _run(env, str(REPO / "scripts" / "ingest"), "--config-dir", str(config_dir), "access", "sync")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    home = tmp_path_factory.mktemp("airflow_fab")
    port = free_port()
    env = airflow_env(
        home,
        CONFIGS,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__AUTH_MANAGER=FAB_AUTH_MANAGER,
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        # The api-server keeps a user's permissions this many seconds (30 by default): a re-sync shows sooner.
        AIRFLOW__FAB__CACHE_TTL=str(CACHE_TTL),
    )
    passwords = {user: secrets.token_urlsafe(16) for user in USERS}
    _run(env, AIRFLOW_BIN, "db", "migrate")  # Airflow's tables and the FAB auth manager's
    _create_user(env, "admin", "Admin", passwords["admin"])
    synced = _sync(env)
    assert "team_crm-data: created" in synced, synced
    assert "team_commerce-data: created" in synced, synced
    again = _sync(env)  # the next deploy's sync changes nothing
    assert again.count(": unchanged (+0 -0 permissions)") == 3, again
    for user, role in USERS.items():
        if role != "Admin":
            _create_user(env, user, role, passwords[user])
    _run(env, AIRFLOW_BIN, "dags", "reserialize")  # what the dag-processor writes, once

    log = (home / "api-server.log").open("w")
    server = subprocess.Popen(
        [AIRFLOW_BIN, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers share the group: stopped together
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while not _healthy(base):
            assert server.poll() is None, (home / "api-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (home / "api-server.log").read_text()[-3000:]
            time.sleep(1)
        yield Airflow(base=base, env=env, passwords=passwords)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def crm(airflow: Airflow) -> UserApi:
    return UserApi(airflow, "crm_user")


@pytest.fixture(scope="module")
def commerce(airflow: Airflow) -> UserApi:
    return UserApi(airflow, "commerce_user")


@pytest.fixture(scope="module")
def admin(airflow: Airflow) -> UserApi:
    return UserApi(airflow, "admin")


def test_a_wrong_password_gets_no_token(airflow: Airflow) -> None:
    resp = requests.post(f"{airflow.base}/auth/token", json={"username": "crm_user", "password": "wrong"}, timeout=30)
    assert resp.status_code == 401


def test_a_team_triggers_its_own_dag_and_not_another_teams(crm: UserApi, commerce: UserApi) -> None:
    own = crm.trigger("ingest_crm")
    assert own.status_code == 200, own.text
    assert own.json()["dag_id"] == "ingest_crm"
    assert crm.trigger("ingest_orders_api").status_code == 403
    assert commerce.trigger("ingest_orders_api").status_code == 200
    assert commerce.trigger("ingest_crm").status_code == 403
    # The platform's own DAGs belong to no team: admins only.
    assert crm.trigger("platform_smoke_check").status_code == 403
    assert crm.trigger("ingest_alerts").status_code == 403


def test_other_teams_dags_are_invisible(crm: UserApi, commerce: UserApi) -> None:
    for session, user in ((crm, "crm_user"), (commerce, "commerce_user")):
        listed = session.call("GET", "/dags")
        assert listed.status_code == 200
        assert {d["dag_id"] for d in listed.json()["dags"]} == {OWN[user]}
        for dag_id in EVERY_DAG - {OWN[user]}:
            assert session.call("GET", f"/dags/{dag_id}").status_code == 403, (user, dag_id)
            assert session.call("GET", f"/dags/{dag_id}/dagRuns").status_code == 403, (user, dag_id)
        assert session.call("GET", f"/dags/{OWN[user]}").status_code == 200
    # Runs across every DAG (`~`) come back filtered to the team's own.
    assert crm.trigger("ingest_crm").status_code == 200
    assert commerce.trigger("ingest_orders_api").status_code == 200
    runs = crm.call("GET", "/dags/~/dagRuns")
    assert runs.status_code == 200
    assert {r["dag_id"] for r in runs.json()["dag_runs"]} == {"ingest_crm"}


def _latest_run(session: UserApi, dag_id: str) -> str:
    runs = session.call("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 1})
    assert runs.status_code == 200, runs.text
    return str(runs.json()["dag_runs"][0]["dag_run_id"])


def test_a_team_clears_its_own_runs_and_not_another_teams(crm: UserApi, commerce: UserApi) -> None:
    assert crm.trigger("ingest_crm").status_code == 200
    assert commerce.trigger("ingest_orders_api").status_code == 200
    crm_run, commerce_run = _latest_run(crm, "ingest_crm"), _latest_run(commerce, "ingest_orders_api")

    cleared = crm.call("POST", f"/dags/ingest_crm/dagRuns/{crm_run}/clear", json={"dry_run": True})
    assert cleared.status_code == 200, cleared.text
    tasks = {ti["task_id"] for ti in cleared.json()["task_instances"]}
    assert "customers.extract_land" in tasks  # the run's own tasks: the clear reached the DAG
    cleared = crm.call("POST", "/dags/ingest_crm/clearTaskInstances", json={"dag_run_id": crm_run, "dry_run": False})
    assert cleared.status_code == 200, cleared.text

    other = f"/dags/ingest_orders_api/dagRuns/{commerce_run}/clear"
    assert crm.call("POST", other, json={"dry_run": True}).status_code == 403
    assert crm.call("POST", "/dags/ingest_orders_api/clearTaskInstances", json={"dry_run": True}).status_code == 403


def test_a_team_backfills_its_own_dag_and_not_another_teams(crm: UserApi) -> None:
    own = crm.backfill("ingest_crm")
    assert own.status_code == 200, own.text
    assert own.json()["dag_id"] == "ingest_crm"
    listed = crm.call("GET", "/backfills", params={"dag_id": "ingest_crm"})
    assert [b["id"] for b in listed.json()["backfills"]] == [own.json()["id"]]
    assert crm.backfill("ingest_orders_api").status_code == 403
    assert crm.call("GET", "/backfills", params={"dag_id": "ingest_orders_api"}).status_code == 403


def test_a_team_cannot_delete_its_dag_or_read_connections(crm: UserApi) -> None:
    """Deleting a DAG's history and the deployment's connections stay with admins."""
    assert crm.call("DELETE", "/dags/ingest_crm").status_code == 403
    assert crm.call("GET", "/connections").status_code == 403
    assert crm.call("GET", "/variables").status_code == 403


def test_an_admin_sees_and_works_on_every_dag(admin: UserApi) -> None:
    listed = admin.call("GET", "/dags")
    assert listed.status_code == 200
    assert {d["dag_id"] for d in listed.json()["dags"]} == EVERY_DAG
    for dag_id in ("ingest_crm", "ingest_orders_api", "platform_smoke_check"):
        assert admin.trigger(dag_id).status_code == 200, dag_id
    run = _latest_run(admin, "ingest_orders_api")
    cleared = admin.call("POST", f"/dags/ingest_orders_api/dagRuns/{run}/clear", json={"dry_run": True})
    assert cleared.status_code == 200, cleared.text
    backfill = admin.backfill("ingest_partner_files")  # a DAG no team's test backfills: no running one to refuse
    assert backfill.status_code == 200, backfill.text
    assert admin.call("GET", "/connections").status_code == 200


def test_the_ingestion_view_shows_a_team_only_its_own_sources(
    airflow: Airflow, crm: UserApi, commerce: UserApi
) -> None:
    """The plugin's pages and JSON ask the FAB auth manager, per DAG, what the user may read."""
    view = f"{airflow.base}/ingestion/api/entities"

    def sources(user: UserApi, path: str = "") -> requests.Response:
        return requests.get(f"{view}{path}", headers=user.headers, timeout=30)

    def listed(user: UserApi) -> set[str]:
        resp = sources(user)
        assert resp.status_code == 200, resp.text[:300]
        return {entity["source"] for entity in resp.json()["entities"]}

    assert listed(crm) == {"crm"}
    assert listed(commerce) == {"orders_api"}
    assert {"crm", "orders_api", "partner_files"} <= listed(UserApi(airflow, "admin"))
    # Another team's entity is answered as one that does not exist; no token, no answer.
    assert sources(crm, "/orders_api/orders").status_code == 404
    assert sources(commerce, "/orders_api/orders").status_code == 200
    assert requests.get(view, timeout=30).status_code == 401


def test_a_config_moved_to_another_team_moves_its_dag(airflow: Airflow, tmp_path: Path) -> None:
    """The sync is declarative: after it, the old team has lost the DAG and the new team has it, once the api-server's
    cache of the users' permissions ([fab] cache_ttl) has run out."""
    moved = tmp_path / "source_configs"
    shutil.copytree(CONFIGS, moved)
    crm_config = moved / "crm.json"
    crm_config.write_text(crm_config.read_text().replace('"team": "crm-data"', '"team": "commerce-data"', 1))
    crm, commerce = UserApi(airflow, "crm_user"), UserApi(airflow, "commerce_user")
    try:
        synced = _sync(airflow.env, moved)
        assert "team_commerce-data: updated" in synced, synced
        assert re.search(r"team_crm-data: updated \(\+0 -\d+ permissions\); no config names this team any more", synced)
        time.sleep(CACHE_TTL + 1)
        assert crm.call("GET", "/dags/ingest_crm").status_code == 403
        assert crm.call("GET", "/dags").status_code == 403  # a role that may read no DAG may not list them
        assert commerce.trigger("ingest_crm").status_code == 200
    finally:
        _sync(airflow.env)
    time.sleep(CACHE_TTL + 1)
    assert crm.call("GET", "/dags/ingest_crm").status_code == 200
    assert commerce.call("GET", "/dags/ingest_crm").status_code == 403
