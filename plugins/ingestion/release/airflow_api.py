"""The deployed Airflow, through its REST API (v2): sign in, wait until the DAG folder is served as expected, run a
DAG and wait for it. Used after a deployment (ingestion.release.deploy); every failure is a DeployStepError naming
the step, never the password or a response body (it may echo what was sent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from ingestion.release.errors import DeployStepError

PAGE = 100


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class Served:
    """What the api-server serves now: active (not stale) DAGs with their last parse, and the import errors."""

    dags: dict[str, datetime | None]
    import_errors: dict[str, datetime]  # file -> when its error was recorded

    def missing_since(self, expected: frozenset[str], since: datetime) -> set[str]:
        """Expected DAGs not parsed since `since` (or not served at all)."""
        return {dag_id for dag_id in expected if (parsed := self.dags.get(dag_id)) is None or parsed < since}


class AirflowApi:
    def __init__(self, base_url: str, user: str, password: str, *, connect_deadline: float) -> None:
        self.base = base_url.rstrip("/")
        # A port-forward may take a moment to listen: retry only a refused connection, until the deadline.
        while True:
            try:
                resp = requests.post(
                    f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30
                )
                break
            except requests.ConnectionError:
                if time.monotonic() > connect_deadline:
                    raise DeployStepError(f"the api-server at {self.base} does not answer") from None
                time.sleep(2)
        if resp.status_code >= 400:
            raise DeployStepError(f"signing in to {self.base} as {user!r} failed (HTTP {resp.status_code})")
        self.headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = requests.request(method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise DeployStepError(f"{method} {path} on {self.base}: {type(exc).__name__}") from None
        if resp.status_code >= 400:
            raise DeployStepError(f"{method} {path} on {self.base}: HTTP {resp.status_code}")
        return resp.json()

    def _pages(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", path, params={**params, "limit": PAGE, "offset": len(items)})
            items += page[key]
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def served(self) -> Served:
        dags = self._pages("/dags", "dags", exclude_stale="true")
        errors = self._pages("/importErrors", "import_errors")
        return Served(
            dags={d["dag_id"]: _when(d.get("last_parsed_time")) for d in dags},
            import_errors={e["filename"]: _when(e["timestamp"]) or datetime.min for e in errors},
        )

    def wait_served(
        self, expected: frozenset[str], since: datetime, deadline: float, say: Callable[[str], None], poll: float = 5
    ) -> None:
        """Wait until every expected DAG was parsed after `since`, no other DAG is served, and there is no import
        error. An import error recorded after `since` fails at once (the new files do not import); an older one is
        waited out (its file has not been parsed again yet)."""
        while True:
            now = self.served()
            fresh = sorted(name for name, at in now.import_errors.items() if at >= since)
            if fresh:
                raise DeployStepError(f"import errors after the switch in: {', '.join(fresh)}")
            missing = now.missing_since(expected, since)
            extra = set(now.dags) - expected
            if not missing and not extra and not now.import_errors:
                say(f"{len(expected)} DAGs served, all parsed after the switch, no import errors")
                return
            if time.monotonic() > deadline:
                problems = []
                if missing:
                    problems.append(f"not parsed since the switch: {', '.join(sorted(missing))}")
                if extra:
                    problems.append(f"still served though not in the release: {', '.join(sorted(extra))}")
                if now.import_errors:
                    problems.append(f"import errors in: {', '.join(sorted(now.import_errors))}")
                raise DeployStepError("; ".join(problems))
            time.sleep(poll)

    def run_dag(self, dag_id: str, deadline: float, say: Callable[[str], None], poll: float = 5) -> None:
        """Unpause `dag_id`, trigger a run and wait for it; DeployStepError naming the tasks that did not succeed."""
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run_id = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"]
        say(f"triggered {dag_id} run {run_id}")
        while time.monotonic() < deadline:
            state = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state == "success":
                say(f"{dag_id} run {run_id}: success")
                return
            if state == "failed":
                tis = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
                failed = sorted(ti["task_id"] for ti in tis if ti["state"] != "success")
                raise DeployStepError(f"{dag_id} run {run_id} failed; tasks not successful: {', '.join(failed)}")
            time.sleep(poll)
        raise DeployStepError(f"{dag_id} run {run_id} did not finish in time")
