"""`make airflow`: run Airflow's components supervised, on the local stack's Postgres metadata database.

`run` starts api-server, scheduler, dag-processor and triggerer, each in its own process group with a PID file
and a log under .airflow/, waits for the API server, prints the UI address and login, then watches them: if one
dies (a Celery worker aside, below), or on Ctrl-C / SIGTERM / `stop`, all of them are stopped. (`airflow
standalone` leaves children running on SIGTERM, hence this.) Expects the environment of `.stack/env` and
`scripts/airflow_env.sh`.

`run --executor celery` (`make airflow EXECUTOR=celery`) runs the CeleryExecutor instead: Redis (the stack's) as
the broker, the metadata database as the result backend, and two Celery workers besides the four components, each
with an AIRFLOW_HOME and working directory of its own, as on separate machines. A worker that dies is started
again (its tasks are retried by Airflow), as a service manager would restart it on its machine.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stack.procs import ManagedProcess, StackError  # noqa: E402 - needs the repo on sys.path first
from stack.services import tcp_open  # noqa: E402
from stack.worker_hostname import HOSTNAME_VAR  # noqa: E402

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Two, so that tasks really run apart: a task that leaned on another's local files would fail.
CELERY_WORKERS = ("worker-1", "worker-2")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
CELERY_CONFIG_OPTIONS = "ingestion.celery_worker.CELERY_CONFIG"
# How long a component has to exit after SIGTERM before its process group is killed. Measured on 2 busy cores
# (docs/operations.md): scheduler about 1 s, api-server 3 s, Celery workers 5 s, triggerer up to 14 s (it gives its
# trigger runner 10 s to clean up). The margin is for a loaded machine, and for a running task, which the scheduler
# (LocalExecutor) or a Celery worker lets finish first; one still running then is killed, and Airflow retries it.
STOP_GRACE_SECONDS = 60
# A Celery worker that exits sooner than this after it started cannot start (a bad setting, an import error):
# starting it again would only loop.
WORKER_MIN_UPTIME_SECONDS = 30
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))


def _home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", REPO / ".airflow"))


def _generated_logins(passwords: Path) -> dict[str, str]:
    """The simple auth manager's generated users and passwords; empty until the file is there and complete."""
    try:
        return dict(json.loads(passwords.read_text()))
    except (OSError, ValueError):
        return {}


def _procs(workers: bool = True) -> list[ManagedProcess]:
    home = _home()
    names = COMPONENTS + (CELERY_WORKERS if workers else ())
    return [ManagedProcess(name, home / "pids", home / "logs" / "components") for name in names]


def _celery(env: dict[str, str]) -> bool:
    return "Celery" in env.get("AIRFLOW__CORE__EXECUTOR", "")


def _environment(port: int, executor: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if executor:
        env["AIRFLOW__CORE__EXECUTOR"] = EXECUTORS[executor]
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
    if _celery(env):
        redis_port = env.get("STACK_REDIS_PORT", "26379")
        env.setdefault("AIRFLOW__CELERY__BROKER_URL", env.get("STACK_REDIS_URL", f"redis://127.0.0.1:{redis_port}/0"))
        env.setdefault("AIRFLOW__CELERY__RESULT_BACKEND", "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        # Two workers of two processes each: the parallelism of 4 on 2 cores.
        env.setdefault("AIRFLOW__CELERY__WORKER_CONCURRENCY", "2")
        # Each worker imports the stages' libraries once, before it forks task processes (ingestion.celery_worker).
        env.setdefault("AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS", CELERY_CONFIG_OPTIONS)
        # Task logs go to one folder that the api-server reads, in place of remote logging; the workers do not serve
        # logs (two on one machine would want the same port).
        env.setdefault("AIRFLOW__LOGGING__BASE_LOG_FOLDER", str(home / "logs"))
    return env


def _worker_environment(env: dict[str, str], name: str) -> dict[str, str]:
    """A worker's own AIRFLOW_HOME (and working directory), and its own name on the task instances it runs."""
    home = _home() / "workers" / name
    home.mkdir(parents=True, exist_ok=True)
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "stack.worker_hostname.hostname",
        HOSTNAME_VAR: f"airflow-{name}",
    }


def _start(proc: ManagedProcess, env: dict[str, str]) -> None:
    if proc.name not in CELERY_WORKERS:
        proc.start([AIRFLOW_BIN, proc.name], env=env, cwd=REPO)
        return
    worker_env = _worker_environment(env, proc.name)
    argv = [AIRFLOW_BIN, "celery", "worker", "--celery-hostname", worker_env[HOSTNAME_VAR], "--skip-serve-logs"]
    proc.start(argv, env=worker_env, cwd=Path(worker_env["AIRFLOW_HOME"]))


def _api_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop() -> int:
    """Stop every component at once: SIGTERM to each one's main process, which stops its own children (executor
    workers, task processes, the trigger runner) in order; what is left of its group once it has exited gets SIGTERM
    too, and the group is killed after the grace period. A SIGTERM to the whole group reached those children at the
    same moment as the program about to stop them (one may die holding a queue its parent then waits on), and
    stopping the components one after another added their waits up."""
    procs = [p for p in reversed(_procs()) if p.pid() is not None]

    def stop_one(proc: ManagedProcess) -> str:
        started = time.monotonic()
        outcome = proc.stop(signal.SIGTERM, STOP_GRACE_SECONDS, leader_only=True)
        return f"{outcome} in {time.monotonic() - started:.1f}s" if outcome == "stopped" else outcome

    failed = 0
    with ThreadPoolExecutor(max_workers=max(len(procs), 1)) as pool:
        for proc, future in [(p, pool.submit(stop_one, p)) for p in procs]:
            try:
                print(f"[airflow] {proc.name}: {future.result()}", flush=True)
            except StackError as exc:
                print(f"[airflow] FAILED: {exc}", flush=True)
                failed = 1
    return failed


def run(port: int, once: bool, executor: str | None = None) -> int:
    env = _environment(port, executor)
    procs = _procs(workers=_celery(env))
    for proc in _procs():
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
        started: dict[str, float] = {}
        for proc in procs:
            _start(proc, env)
            started[proc.name] = time.monotonic()
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
            dead = [p for p in procs if not p.running()]
            # A worker that went away is replaced, as a machine's service manager or Kubernetes would: the task
            # instances it held are retried once the scheduler sees their heartbeats stop. One that exits right
            # after it started cannot start, and any other component is one of a kind: both stop everything.
            failed = [
                p
                for p in dead
                if p.name not in CELERY_WORKERS or time.monotonic() - started[p.name] < WORKER_MIN_UPTIME_SECONDS
            ]
            if failed:
                print(f"[airflow] FAILED: {', '.join(p.name for p in failed)} exited; stopping the others", flush=True)
                for p in failed:
                    print(p.log_tail())
                return 1
            for worker in dead:
                print(f"[airflow] {worker.name} exited; starting a new one in its place", flush=True)
                worker.stop(signal.SIGKILL, 10)  # whatever is left of the old one's process group
                _start(worker, env)
                started[worker.name] = time.monotonic()
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
    parser.add_argument(
        "--executor", choices=sorted(EXECUTORS), help="default: AIRFLOW__CORE__EXECUTOR (scripts/airflow_env.sh)"
    )
    args = parser.parse_args()
    return stop() if args.command == "stop" else run(args.port, args.once, args.executor)


if __name__ == "__main__":
    sys.exit(main())
