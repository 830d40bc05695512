"""Post-deploy checks through a deployed Airflow's REST API (scripts/deploy.sh runs it after `helm upgrade`).

1. Waits until the dag-processor has parsed the new image's DAG files: `platform_smoke_check` parsed after the deploy
   started, and no import errors at all (a broken config is one import error: ingestion_config_errors.py).
2. Unpauses and triggers `platform_smoke_check` (one real operation through each provider hook) and waits for its run.

Exit 0 when the run succeeded, 1 otherwise, naming the step. The password comes from $SMOKE_PASSWORD (deploy.sh reads
it from Key Vault), never from the command line, and is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from typing import Any

import requests

SMOKE_DAG_ID = "platform_smoke_check"
POLL_SECONDS = 10


class Api:
    def __init__(self, base: str, user: str, password: str, deadline: float) -> None:
        self.base = base.rstrip("/")
        # The port-forward deploy.sh starts may take a moment to listen: retry only a refused connection.
        while True:
            try:
                token = requests.post(
                    f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30
                )
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        token.raise_for_status()
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = requests.request(method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=30, **kwargs)
        resp.raise_for_status()
        return resp.json()


def say(message: str) -> None:
    print(f"[smoke] {message}", flush=True)


def wait_parsed(api: Api, parsed_after: datetime, deadline: float) -> bool:
    while time.monotonic() < deadline:
        errors = api.call("GET", "/importErrors", params={"limit": 100})["import_errors"]
        if errors:
            say(f"import errors in: {', '.join(sorted(e['filename'] for e in errors))}")
            return False
        try:
            details = api.call("GET", f"/dags/{SMOKE_DAG_ID}/details")
        except requests.HTTPError as error:
            if error.response is None or error.response.status_code != 404:
                raise
            details = {}
        parsed = details.get("last_parsed_time")
        if parsed and datetime.fromisoformat(parsed.replace("Z", "+00:00")) >= parsed_after:
            say(f"{SMOKE_DAG_ID} parsed at {parsed}, no import errors")
            return True
        time.sleep(POLL_SECONDS)
    say(f"{SMOKE_DAG_ID} was not parsed after {parsed_after.isoformat()} in time")
    return False


def run_smoke(api: Api, deadline: float) -> bool:
    api.call("PATCH", f"/dags/{SMOKE_DAG_ID}", json={"is_paused": False})
    run_id = api.call("POST", f"/dags/{SMOKE_DAG_ID}/dagRuns", json={"logical_date": None})["dag_run_id"]
    say(f"triggered {SMOKE_DAG_ID} run {run_id}")
    while time.monotonic() < deadline:
        state = api.call("GET", f"/dags/{SMOKE_DAG_ID}/dagRuns/{run_id}")["state"]
        if state in {"success", "failed"}:
            say(f"{SMOKE_DAG_ID} run {run_id}: {state}")
            if state == "failed":
                tis = api.call("GET", f"/dags/{SMOKE_DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
                failed = sorted(ti["task_id"] for ti in tis if ti["state"] != "success")
                say(f"tasks not successful: {', '.join(failed)}")
            return state == "success"
        time.sleep(POLL_SECONDS)
    say(f"{SMOKE_DAG_ID} run {run_id} did not finish in time")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="api-server base URL, e.g. http://127.0.0.1:18080")
    parser.add_argument("--user", required=True, help="an Airflow user with the Admin role")
    parser.add_argument("--parsed-after", required=True, help="UTC ISO 8601 time the deploy started")
    parser.add_argument("--timeout", type=int, default=900, help="seconds for both steps together")
    args = parser.parse_args()
    password = os.environ.get("SMOKE_PASSWORD")
    if not password:
        say("SMOKE_PASSWORD is not set")
        return 1
    deadline = time.monotonic() + args.timeout
    parsed_after = datetime.fromisoformat(args.parsed_after.replace("Z", "+00:00"))
    try:
        api = Api(args.api, args.user, password, deadline)
        return 0 if wait_parsed(api, parsed_after, deadline) and run_smoke(api, deadline) else 1
    except requests.RequestException as error:
        # The URL and status only: a response body may echo what was sent.
        status = error.response.status_code if error.response is not None else "no response"
        url = error.request.url if error.request is not None else args.api
        say(f"REST API call failed: {url!s} ({status})")
        return 1


if __name__ == "__main__":
    sys.exit(main())
