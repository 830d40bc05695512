"""`make airflow`: run Airflow's components supervised, on the local stack's Postgres metadata database.

`run` starts api-server, scheduler, dag-processor and triggerer, each in its own process group with a PID file
and a log under .airflow/, waits for the API server, prints the UI address and login, then watches them: if one
dies, or on Ctrl-C / SIGTERM / `stop`, all of them are stopped. (`airflow standalone` leaves children running
on SIGTERM, hence this.) Expects the environment of `.stack/env` and `scripts/airflow_env.sh`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stack.procs import ManagedProcess, StackError  # noqa: E402 - needs the repo on sys.path first
from stack.services import tcp_open  # noqa: E402

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))


def _home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", REPO / ".airflow"))


def _generated_logins(passwords: Path) -> dict[str, str]:
    """The simple auth manager's generated users and passwords; empty until the file is there and complete."""
    try:
        return dict(json.loads(passwords.read_text()))
    except (OSError, ValueError):
        return {}


def _procs() -> list[ManagedProcess]:
    home = _home()
    return [ManagedProcess(name, home / "pids", home / "logs" / "components") for name in COMPONENTS]


def _environment(port: int) -> dict[str, str]:
    env = dict(os.environ)
    home = _home()
    home.mkdir(parents=True, exist_ok=True)
    if (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in os.environ
        or "sqlite" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    ):
        # Four components writing at once need a real database: the stack's Postgres has one for Airflow.
        pg_port = env.get("STACK_POSTGRES_PORT", "25432")
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"postgresql+psycopg://ingest:ingest@127.0.0.1:{pg_port}/airflow"
    # Components authenticate to each other with one JWT secret: keep it stable across restarts.
    secret_file = home / "jwt_secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    env["AIRFLOW__API_AUTH__JWT_SECRET"] = secret_file.read_text().strip()
    env["AIRFLOW__API__PORT"] = str(port)
    env["AIRFLOW__API__HOST"] = "127.0.0.1"
    env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    env.setdefault("AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR", "True")
    return env


def _api_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop() -> int:
    failed = 0
    for proc in reversed(_procs()):
        if proc.pid() is None:
            continue
        try:
            print(f"[airflow] {proc.name}: {proc.stop(signal.SIGTERM, timeout=30)}", flush=True)
        except StackError as exc:
            print(f"[airflow] FAILED: {exc}", flush=True)
            failed = 1
    return failed


def run(port: int, once: bool) -> int:
    env = _environment(port)
    procs = _procs()
    for proc in procs:
        if proc.running():
            print(f"[airflow] FAILED: {proc.name} is already running (pid {proc.pid()}); `make airflow-stop` first")
            return 1
    # Another process on the port (an api-server from an earlier run that lost its PID file, say) would answer the
    # health check in place of ours, which could not bind, and the UI would be some other Airflow's.
    if tcp_open(port):
        print(
            f"[airflow] FAILED: port {port} is already in use by another process; stop it, or choose another port "
            "with AIRFLOW_PORT=..."
        )
        return 1
    print("[airflow] migrating the metadata database", flush=True)
    migrate = subprocess.run([AIRFLOW_BIN, "db", "migrate"], env=env, capture_output=True, text=True, check=False)
    if migrate.returncode != 0:
        print(migrate.stdout[-3000:] + migrate.stderr[-3000:])
        print("[airflow] FAILED: airflow db migrate")
        return 1
    # The stages only check the control DB's schema revision (as in a deploy, it is upgraded before the code serves).
    print("[airflow] upgrading the control database's schema", flush=True)
    upgrade = subprocess.run(
        [str(REPO / "scripts" / "ingest"), "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    if upgrade.returncode != 0:
        print(upgrade.stdout[-3000:] + upgrade.stderr[-3000:])
        print("[airflow] FAILED: scripts/ingest db upgrade")
        return 1
    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        for proc in procs:
            proc.start([AIRFLOW_BIN, proc.name], env=env, cwd=REPO)
        procs[0].wait_ready(lambda: _api_healthy(port), timeout=180)
        passwords = _home() / "simple_auth_manager_passwords.json.generated"
        # The api-server can answer its health check a moment before the simple auth manager has written the
        # generated passwords (seen in CI on a busy machine): give it a little while.
        written_by = time.monotonic() + 60
        login = _generated_logins(passwords)
        while not login and time.monotonic() < written_by and all(p.running() for p in procs):
            time.sleep(0.5)
            login = _generated_logins(passwords)
        print(f"[airflow] UI: http://127.0.0.1:{port}   login: {', '.join(f'{u} / {p}' for u, p in login.items())}")
        print(f"[airflow] logs: {_home() / 'logs' / 'components'}   stop: Ctrl-C or `make airflow-stop`", flush=True)
        while not stopping and not once:
            dead = [p.name for p in procs if not p.running()]
            if dead:
                print(f"[airflow] FAILED: {', '.join(dead)} exited; stopping the others", flush=True)
                for p in procs:
                    if p.name in dead:
                        print(p.log_tail())
                return 1
            time.sleep(1)
        return 0
    except StackError as exc:
        print(f"[airflow] FAILED: {exc}", flush=True)
        return 1
    finally:
        if not once:
            stop()


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "stop"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    parser.add_argument("--once", action="store_true", help="start, wait until the UI answers, return (for tests)")
    args = parser.parse_args()
    return stop() if args.command == "stop" else run(args.port, args.once)


if __name__ == "__main__":
    sys.exit(main())
