"""One deployment, the same steps for every target (`scripts/deploy.sh`, which the deploy workflow calls):

1. record: a release record opens in the control DB (`deploying`), with the config diff against the release running
   in that environment (sources and entities added, removed, changed, from the merged configs);
2. gates, on the release's own files and code, with the environment's overlay: every config valid and every DAG file
   importing (ingestion.release.dag_check, the dag-processor's loader), which also gives the DAGs to expect;
3. apply: the target's own step (local: switch the bundle's link; helm: `helm upgrade --atomic` by image digest);
4. served: through Airflow's REST API, every expected DAG parsed after the apply, no other DAG, no import error;
5. smoke: `platform_smoke_check` triggered through the REST API, and its run succeeds.
A failure at 4 or 5 rolls back to the previous release (and, where the target allows, waits until the DAGs served
before are served again), alerts the platform's channels, closes the record as `rolled_back` and exits 1. The record
is printed as Markdown, and appended to `$GITHUB_STEP_SUMMARY` in a workflow.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ingestion.release.airflow_api import AirflowApi
from ingestion.release.config_diff import ConfigChanges, diff
from ingestion.release.errors import DeployStepError
from ingestion.release.local_bundle import LocalBundle
from ingestion.state import releases as records

if TYPE_CHECKING:
    from sqlalchemy import Engine

SMOKE_DAG_ID = "platform_smoke_check"
ENVIRONMENTS = ("dev", "prod")
PLATFORM_TEAM = "data-platform"


def say(message: str) -> None:
    print(f"[deploy] {message}", flush=True)


@dataclass(frozen=True)
class Release:
    environment: str  # the config overlay and INGEST_ENV: dev or prod
    tree: Path  # a checkout: dags/, plugins/, include/
    version: str
    commit_sha: str | None
    image: str | None
    deployed_by: str
    approved_by: str | None


@dataclass(frozen=True)
class GateResult:
    dag_ids: frozenset[str]
    configs: dict[str, Any]


class Target(Protocol):
    kind: str
    verifies_rollback: bool  # whether the DAGs served before can be checked again after a rollback

    def prepare(self, release: Release) -> Path:
        """Make the release's files ready without serving them; returns the tree the gates check."""

    def apply(self) -> None: ...

    def api(self, deadline: float) -> AirflowApi: ...

    def rollback(self) -> bool:
        """Serve the previous release again; False when there is none (a first deployment)."""

    def finish(self) -> None:
        """After a successful deployment: tidy up (old local releases)."""


# --- the gates -------------------------------------------------------------------------------------------------------


def run_gates(tree: Path, environment: str) -> GateResult:
    """Import the release's DAG folder with its own code and configs (a child process), as the dag-processor will."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__CORE__")}
    env.update(
        PYTHONPATH=str(tree / "plugins"),
        INGEST_CONFIG_DIR=str(tree / "include" / "source_configs"),
        INGEST_ENV=environment,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(tree / "dags"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "ingestion.release.dag_check", str(tree / "dags")],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise DeployStepError(
            f"the DAG check of {tree / 'dags'} did not report (exit {done.returncode}): {done.stderr.strip()[-1500:]}"
        ) from None
    if report["import_errors"]:
        lines = [f"{file}: {text}" for file, text in sorted(report["import_errors"].items())]
        raise DeployStepError("DAG files that do not import with the release's configs:\n" + "\n".join(lines))
    return GateResult(dag_ids=frozenset(report["dag_ids"]), configs=report["configs"])


# --- alerts and the summary -----------------------------------------------------------------------------------------


def platform_channels(tree: Path) -> tuple[str, ...]:
    """The alert channels of `_defaults.json` in the release: the platform team's own."""
    try:
        defaults = json.loads((tree / "include" / "source_configs" / "_defaults.json").read_text())
        return tuple(str(c) for c in defaults.get("alerts", {}).get("channels", []))
    except (OSError, ValueError, AttributeError):
        return ()


def alert_failure(release: Release, release_id: int | None, step: str, detail: str, rolled_back: bool) -> None:
    """Tell the platform's channels; never raises (a deployment that failed must still say so and exit 1)."""
    channels = platform_channels(release.tree)
    if not channels:
        say("no alert channels in _defaults.json: no alert sent")
        return
    try:
        from ingestion.notify.alert import Alert
        from ingestion.notify.notifiers import send

        outcome = send(
            Alert(
                kind="deployment",
                severity="high",
                title=f"Deployment of {release.version} to {release.environment} failed at {step}"
                + ("; rolled back" if rolled_back else ""),
                source="platform",
                entity=release.environment,
                dag_id=SMOKE_DAG_ID,
                task_id=f"release {release_id}" if release_id is not None else None,
                run_id=None,
                try_number=None,
                error=detail,
                owner=PLATFORM_TEAM,
                secondary_owner=None,
                team=PLATFORM_TEAM,
                run_url=None,
                runbook_url=None,
                counts={"release": release_id or "-", "rolled back": "yes" if rolled_back else "no"},
            ),
            channels,
        )
        say(f"alert sent: {', '.join(f'{ch} {result}' for ch, result in sorted(outcome.items()))}")
    except Exception as exc:  # noqa: BLE001 - the deployment's own failure is what must come out
        say(f"the alert could not be sent ({type(exc).__name__})")


def summary(record: records.ReleaseRecord, changes: ConfigChanges) -> str:
    rows = [
        ("Environment", f"{record.environment} ({record.target})"),
        ("Status", record.status),
        ("Version", record.version),
        ("Commit", record.commit_sha or "-"),
        ("Image", record.image or "-"),
        ("Deployed by", record.deployed_by),
        ("Approved by", record.approved_by or "-"),
        ("Started", record.started_at.isoformat() if record.started_at else "-"),
        ("Finished", record.finished_at.isoformat() if record.finished_at else "-"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    detail = f"\n\n{record.detail}\n" if record.detail else "\n"
    lines = "\n".join(changes.lines())
    return (
        f"### Release {record.id}: {record.status}\n\n| | |\n|---|---|\n{table}\n{detail}\n"
        f"Source config changes:\n\n```\n{lines}\n```\n"
    )


def publish_summary(text: str) -> None:
    print(text, flush=True)
    if path := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(path, "a", encoding="utf-8") as out:
            out.write(text + "\n")


# --- the steps ------------------------------------------------------------------------------------------------------


@dataclass
class Deployment:
    release: Release
    target: Target
    engine: Engine
    timeout_seconds: float = 900
    clock: Callable[[], float] = field(default=time.monotonic)

    def run(self) -> int:
        release, target = self.release, self.target
        from ingestion.state.schema import upgrade

        upgrade(self.engine)  # the release table itself may be this release's (idempotent, locked)
        running = records.last_deployed(self.engine, release.environment, target.kind)
        say(f"deploying {release.version} to {release.environment} ({target.kind})")
        try:
            gated = target.prepare(release)
            say("gate: every DAG file imports with the release's code, configs and overlay")
            gate = run_gates(gated, release.environment)
        except DeployStepError as exc:
            return self._refused("gates", str(exc), running)
        changes = diff(running.configs if running else {}, gate.configs)
        for line in changes.lines():
            say(f"change: {line}")
        release_id = self._open_record(changes.as_json(), gate.configs)
        say(f"release record {release_id} opened")
        deadline = self.clock() + self.timeout_seconds
        step = "apply"
        served_before: frozenset[str] = frozenset()
        try:
            if target.verifies_rollback:
                served_before = frozenset(target.api(deadline).served().dags)
            switched_at = datetime.now(UTC)
            say(f"apply: {target.kind}")
            target.apply()
            step = "served"
            say(f"served: waiting until the dag-processor has parsed {len(gate.dag_ids)} DAGs")
            api = target.api(deadline)  # a Helm upgrade replaced the api-server: sign in again
            api.wait_served(gate.dag_ids, switched_at, deadline, say)
            step = "smoke"
            api.run_dag(SMOKE_DAG_ID, deadline, say)
        except DeployStepError as exc:
            return self._roll_back(release_id, step, str(exc), served_before, changes)
        records.close_release(self.engine, release_id, records.DEPLOYED)
        target.finish()
        self._publish(release_id, changes)
        say(f"{release.environment} serves {release.version}")
        return 0

    def _open_record(self, changes: dict[str, Any], configs: dict[str, Any]) -> int:
        """Open this deployment's release record, with what it changes and the merged configs it ships."""
        release = self.release
        return records.open_release(
            self.engine,
            records.ReleaseRecord(
                environment=release.environment,
                target=self.target.kind,
                version=release.version,
                commit_sha=release.commit_sha,
                image=release.image,
                deployed_by=release.deployed_by,
                approved_by=release.approved_by,
                changes=changes,
                configs=configs,
            ),
        )

    def _refused(self, step: str, detail: str, running: records.ReleaseRecord | None) -> int:
        say(f"FAILED at {step}: {detail}")
        release_id = self._open_record({}, {})
        records.close_release(self.engine, release_id, records.FAILED, f"{step}: {detail}")
        self._publish(release_id, ConfigChanges())
        say(f"nothing was applied; {running.version if running else 'no release'} is still served")
        return 1

    def _roll_back(
        self, release_id: int, step: str, detail: str, served_before: frozenset[str], changes: ConfigChanges
    ) -> int:
        say(f"FAILED at {step}: {detail}")
        rolled_back = False
        outcome = f"{step}: {detail}"
        try:
            rolled_back = self.target.rollback()
            if rolled_back and self.target.verifies_rollback and served_before:
                back_at = datetime.now(UTC)
                say("rolled back: waiting until the previous DAGs are served again")
                api = self.target.api(self.clock() + self.timeout_seconds)
                api.wait_served(served_before, back_at, self.clock() + self.timeout_seconds, say)
            outcome += "; rolled back to the previous release" if rolled_back else "; nothing to roll back to"
        except DeployStepError as exc:
            outcome += f"; the rollback failed too: {exc}"
            say(f"FAILED: rollback: {exc}")
        status = records.ROLLED_BACK if rolled_back else records.FAILED
        records.close_release(self.engine, release_id, status, outcome)
        alert_failure(self.release, release_id, step, detail, rolled_back)
        self._publish(release_id, changes)
        return 1

    def _publish(self, release_id: int, changes: ConfigChanges) -> None:
        record = records.release(self.engine, release_id)
        if record is not None:
            publish_summary(summary(record, changes))


# --- the targets ----------------------------------------------------------------------------------------------------


def _release_id(version: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]+', '_', version)[:60]}"


@dataclass
class LocalTarget:
    """A local Airflow (`make airflow`) whose DAG folder, plugins and configs are read through the bundle's link."""

    bundle: LocalBundle
    api_url: str
    user: str
    password: str
    kind: str = "local"
    verifies_rollback: bool = True
    staged: Path | None = None
    previous: Path | None = None

    def prepare(self, release: Release) -> Path:
        self.previous = self.bundle.current()
        self.staged = self.bundle.stage(release.tree, _release_id(release.version))
        say(f"staged {self.staged.name} in {self.bundle.releases}")
        return self.staged

    def apply(self) -> None:
        assert self.staged is not None, "prepare() first"
        self.bundle.switch(self.staged)
        say(f"{self.bundle.link} -> {self.staged.name}")

    def api(self, deadline: float) -> AirflowApi:
        return AirflowApi(self.api_url, self.user, self.password, connect_deadline=deadline)

    def rollback(self) -> bool:
        if self.previous is None:
            say("first deployment to this bundle: nothing to roll back to; the release stays for inspection")
            return False
        self.bundle.switch(self.previous)
        say(f"rolled back: {self.bundle.link} -> {self.previous.name}")
        return True

    def finish(self) -> None:
        if removed := self.bundle.prune(also_keep=(self.previous,) if self.previous else ()):
            say(f"removed old releases: {', '.join(removed)}")


def local_password(user: str) -> str:
    """`$DEPLOY_API_PASSWORD`, else the simple auth manager's generated password of `user` in `$AIRFLOW_HOME`."""
    if value := os.environ.get("DEPLOY_API_PASSWORD"):
        return value
    home = Path(os.environ.get("AIRFLOW_HOME", Path.cwd() / ".airflow"))
    generated = home / "simple_auth_manager_passwords.json.generated"
    try:
        return str(json.loads(generated.read_text())[user])
    except (OSError, ValueError, KeyError):
        raise DeployStepError(
            f"no password for {user!r}: set DEPLOY_API_PASSWORD, or run the local Airflow (make airflow) whose "
            f"AIRFLOW_HOME holds {generated.name}"
        ) from None


def _git(tree: Path, *args: str) -> str | None:
    done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/deploy.sh", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    targets = parser.add_subparsers(dest="target", required=True)
    local = targets.add_parser("local", help="deploy a checkout to the local Airflow through its bundle folder")
    local.add_argument("--from", dest="tree", type=Path, default=Path.cwd(), help="the checkout to deploy (.)")
    local.add_argument(
        "--bundle",
        type=Path,
        default=Path(os.environ.get("INGEST_BUNDLE_ROOT", ".airflow/bundle")),
        help="the bundle folder the local Airflow reads through <bundle>/current ($INGEST_BUNDLE_ROOT)",
    )
    local.add_argument("--api", default=f"http://127.0.0.1:{os.environ.get('AIRFLOW_PORT', '8080')}")
    local.add_argument("--user", default="admin")
    local.add_argument("--env", dest="environment", choices=ENVIRONMENTS, default="dev", help="config overlay")
    for name in ENVIRONMENTS:
        helm = targets.add_parser(name, help=f"deploy an image by digest to {name}'s Airflow on Kubernetes (Helm)")
        helm.add_argument("repository", help="image repository, e.g. myacr.azurecr.io/ingestion")
        helm.add_argument("digest", help="image digest, sha256:<64 hex>: deploy by digest, never by tag")
        helm.set_defaults(environment=name, tree=Path.cwd())
    for sub in (local, *(targets.choices[name] for name in ENVIRONMENTS)):
        sub.add_argument("--version", help="release version (default: git describe of the tree)")
        sub.add_argument("--deployed-by", default=os.environ.get("GITHUB_ACTOR") or getpass.getuser())
        sub.add_argument("--approved-by", default=os.environ.get("DEPLOY_APPROVED_BY") or None)
        sub.add_argument("--timeout", type=float, default=float(os.environ.get("SMOKE_TIMEOUT_SECONDS", "900")))
    history = targets.add_parser("history", help="the latest release records, newest first (nothing is deployed)")
    history.add_argument("--env", dest="environment", choices=ENVIRONMENTS, help="one environment's only")
    history.add_argument("--limit", type=int, default=20)
    show = targets.add_parser("show", help="one release record, as the deploy printed it")
    show.add_argument("release_id", type=int)
    return parser


def show_history(engine: Engine, environment: str | None, limit: int) -> int:
    for record in records.history(engine, environment, limit):
        started = record.started_at.strftime("%Y-%m-%d %H:%M") if record.started_at else "-"
        print(
            f"{record.id:>5}  {started}  {record.environment:<5} {record.target:<5} {record.status:<11} "
            f"{record.version}  by {record.deployed_by}, approved by {record.approved_by or '-'}"
        )
    return 0


def show_release(engine: Engine, release_id: int) -> int:
    record = records.release(engine, release_id)
    if record is None:
        say(f"no release record {release_id}")
        return 2
    print(summary(record, ConfigChanges.from_json(record.changes)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from ingestion.state.engine import control_engine

    if args.target in ("history", "show"):
        try:
            engine = control_engine(allow_embedded=False)
        except Exception as exc:  # noqa: BLE001 - say what is missing, never a traceback with a URL in it
            say(f"FAILED: {exc}")
            return 1
        if args.target == "show":
            return show_release(engine, args.release_id)
        return show_history(engine, args.environment, args.limit)
    tree = args.tree.resolve()
    release = Release(
        environment=args.environment,
        tree=tree,
        version=args.version or _git(tree, "describe", "--always", "--dirty", "--abbrev=12") or "unversioned",
        commit_sha=_git(tree, "rev-parse", "HEAD"),
        image=f"{args.repository}@{args.digest}" if args.target != "local" else None,
        deployed_by=args.deployed_by,
        approved_by=args.approved_by,
    )
    try:
        target: Target
        if args.target == "local":
            target = LocalTarget(LocalBundle(args.bundle.resolve()), args.api, args.user, local_password(args.user))
        else:
            from ingestion.release.helm_target import HelmTarget

            target = HelmTarget.from_environment(args.environment, args.repository, args.digest)
        engine = control_engine(allow_embedded=False)
    except Exception as exc:  # noqa: BLE001 - say what is missing, never a traceback with a URL in it
        say(f"FAILED: {exc}")
        return 1
    return Deployment(release, target, engine, timeout_seconds=args.timeout).run()


if __name__ == "__main__":
    sys.exit(main())
