"""Airflow's REST API as admin, for tests that run a real Airflow: to wait for what the scheduler and the
dag-processor do, and to trigger or clear runs where the test is not about clicking them in the UI."""

from __future__ import annotations

import time
from typing import Any

import requests


class AirflowRest:
    def __init__(self, base: str, password: str, *, timeout: float = 300, poll_seconds: float = 2) -> None:
        """`base` is the api-server's address (http://127.0.0.1:PORT); `timeout` the default wait."""
        self.base = base
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        token = requests.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = requests.request(method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=30, **kwargs)
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text[:500]}"
        return resp.json()

    def dags(self) -> dict[str, dict[str, Any]]:
        """The DAGs served now (stale ones left out), by id."""
        found = self.call("GET", "/dags", params={"limit": 100, "exclude_stale": "true"})["dags"]
        return {dag["dag_id"]: dag for dag in found}

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        tis = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})
        return {ti["task_id"]: ti for ti in tis["task_instances"]}

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {task_id: ti["state"] for task_id, ti in self.task_instances(dag_id, run_id).items()}

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state once it finished (success or failed), None before."""
        state = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    def wait(self, what: str, check: Any, timeout: float | None = None) -> Any:
        """Calls `check` until it returns something true, and returns that; fails naming `what` after `timeout`."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if result := check():
                return result
            time.sleep(self.poll_seconds)
        raise AssertionError(f"timed out after {limit:.0f} s waiting for {what}")

    def wait_parsed(self, dag_id: str) -> None:
        """Until the dag-processor has parsed `dag_id` (it parses the folder on its own schedule)."""
        self.wait(f"{dag_id} parsed", lambda: dag_id in self.dags())

    def wait_run(self, dag_id: str, run_id: str, timeout: float | None = None) -> None:
        """Until the run finished; fails, with its task states, unless it succeeded."""
        state = self.wait(f"{dag_id} run {run_id}", lambda: self.run_state(dag_id, run_id), timeout)
        assert state == "success", f"{run_id}: {state}; tasks {self.task_states(dag_id, run_id)}"
