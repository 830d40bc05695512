"""`make airflow`'s supervisor: all four components come up on the stack's Postgres, the UI answers a login,
the DAG folder is parsed (a broken source config shows as an import error while every valid DAG loads),
and Ctrl-C (SIGINT) stops every component."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from stack.procs import owned_processes
from tests.integration.support import COMPONENT_SETTINGS, REPO, airflow_env, start_airflow

PORT = 28090


EXPECTED_DAGS = {"platform_smoke_check", "ingest_crm", "ingest_orders_api", "ingest_partner_files"}


def _configs_with_one_broken(target: Path) -> Path:
    shutil.copytree(REPO / "include" / "source_configs", target)
    broken = json.loads((target / "crm.json").read_text())
    broken["name"] = "broken_crm"
    broken["schedule"] = "every day please"
    (target / "broken_crm.json").write_text(json.dumps(broken))
    return target


def test_components_start_serve_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    env = airflow_env(home, _configs_with_one_broken(tmp_path / "source_configs"), **COMPONENT_SETTINGS)
    proc, output = start_airflow(env, PORT)
    try:
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        assert f"admin / {password}" in "".join(output)

        token = requests.post(
            f"http://127.0.0.1:{PORT}/auth/token", json={"username": "admin", "password": password}, timeout=10
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # The dag-processor parses the folder on its own schedule: poll, bounded.
        dag_ids: set[str] = set()
        import_errors: list[dict] = []
        for _ in range(60):
            resp = requests.get(f"http://127.0.0.1:{PORT}/api/v2/dags", headers=headers, timeout=10)
            dag_ids = {d["dag_id"] for d in resp.json().get("dags", [])}
            resp = requests.get(f"http://127.0.0.1:{PORT}/api/v2/importErrors", headers=headers, timeout=10)
            import_errors = resp.json().get("import_errors", [])
            if dag_ids >= EXPECTED_DAGS and import_errors:
                break
            time.sleep(2)
        assert dag_ids >= EXPECTED_DAGS
        assert "ingest_broken_crm" not in dag_ids
        # What the UI's import-error banner shows: the file, the JSON path and what was expected.
        assert [e["filename"] for e in import_errors] == ["ingestion_config_errors.py"]
        assert (
            "broken_crm.json: $.schedule: 'every day please' is not a valid cron expression"
            in (import_errors[0]["stack_trace"])
        )
        pids = [int(p.read_text()) for p in (home / "pids").glob("*.pid")]
        assert len(pids) == 4
        # Ctrl-C once the scheduler's loop has gone round: stopped within seconds of its start, its LocalExecutor
        # once waited for its idle workers until the stop grace ran out (the scheduler was killed after 60 s).
        first = _scheduler_heartbeat()
        for _ in range(60):
            if (beat := _scheduler_heartbeat()) is not None and beat != first:
                break
            time.sleep(1)
        assert _scheduler_heartbeat() != first, "the scheduler never heartbeat again"
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
        output.append(rest)
    assert proc.returncode == 0, "".join(output)[-3000:]
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert f"[airflow] {name}: stopped" in "".join(output)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    # Every component and its children carry the supervisor's owner mark in their environment.
    assert owned_processes(str(home)) == []


def test_refuses_a_port_another_process_holds(tmp_path: Path) -> None:
    """An api-server from an earlier run that lost its PID file would answer the health check in place of ours:
    the supervisor refuses to start anything and says which port."""
    home = tmp_path / "airflow"
    env = airflow_env(home, REPO / "include" / "source_configs", **COMPONENT_SETTINGS)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "scripts/airflow_local.py", "run", "--port", str(port), "--once"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"[airflow] FAILED: port {port} is already in use" in done.stdout
    assert "migrating" not in done.stdout
    assert not list((home / "pids").glob("*.pid"))


def _scheduler_heartbeat() -> str | None:
    health = requests.get(f"http://127.0.0.1:{PORT}/api/v2/monitor/health", timeout=10).json()
    return (health.get("scheduler") or {}).get("latest_scheduler_heartbeat")
