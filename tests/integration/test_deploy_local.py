"""`scripts/deploy.sh local`: the deploy script's every step except the Helm apply, for real, against a running local
Airflow (api-server, scheduler, dag-processor, triggerer on the stack's Postgres) that reads its DAG folder, plugins
and configs through a bundle folder's `current` link.

In order, on one Airflow:
1. the first deployment of a checkout: recorded, every source "added", the smoke run passes;
2. a release that adds a source: the new DAG is served, the smoke run passes, the record's diff names only that source;
3. a release whose new source names a connection this environment lacks: the smoke run fails, the script rolls back
   (the link points at release 2 again, and its DAGs are served again without the broken one), alerts the platform's
   channels and exits 1; the record says `rolled_back`, with its diff.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from ingestion.release.local_bundle import LocalBundle
from ingestion.state import releases
from ingestion.state.engine import control_engine
from tests.integration.airflow_rest import AirflowRest
from tests.integration.support import COMPONENT_SETTINGS, REPO, airflow_env, start_airflow

PORT = 28093
PG_PORT = os.environ.get("STACK_POSTGRES_PORT", "25432")
SAMPLE_DAGS = {"ingest_crm", "ingest_orders_api", "ingest_partner_files"}


def _checkout(target: Path) -> Path:
    """What a clone holds of the files Airflow reads (the deploy copies only these)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("dags", "plugins", "include"):
        shutil.copytree(REPO / name, target / name, ignore=ignore)
    return target


def _add_source(tree: Path, name: str, **changes: Any) -> None:
    configs = tree / "include" / "source_configs"
    config = json.loads((configs / "crm.json").read_text())
    config.update(name=name, kafka={"topic_template": f"ingest.{name}.{{entity}}"}, **changes)
    (configs / f"{name}.json").write_text(json.dumps(config, indent=2))


def _deploy(env: dict[str, str], tree: Path, bundle: Path, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(REPO / "scripts" / "deploy.sh"), "local", "--from", str(tree), "--bundle", str(bundle),
            "--api", f"http://127.0.0.1:{PORT}", "--version", version, "--approved-by", "release-approver",
            "--timeout", "600",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip


@contextmanager
def _own_metadata_schema() -> Iterator[str]:
    """A metadata DB of this test's own (a schema in the stack's Airflow database, through the search path): no
    DAG, import error or scheduler of another Airflow on the stack's Postgres can mix with this one's."""
    schema = f"deploy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+psycopg://ingest:ingest@127.0.0.1:{PG_PORT}/airflow")
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"postgresql+psycopg://ingest:ingest@127.0.0.1:{PG_PORT}/airflow?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module")
def deployed_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with _own_metadata_schema() as metadata_url:
        yield from _deployed_airflow(tmp_path_factory, metadata_url)


def _deployed_airflow(tmp_path_factory: pytest.TempPathFactory, metadata_url: str) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("deploy")
    bundle = LocalBundle(root / "bundle")
    bundle.switch(bundle.stage(_checkout(root / "seed"), "00000000T000000000000Z-seed"))
    current = bundle.link
    home = root / "airflow"
    env = airflow_env(
        home,
        current / "include" / "source_configs",
        **COMPONENT_SETTINGS,
        AIRFLOW__CORE__DAGS_FOLDER=str(current / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(current / "plugins"),
        PYTHONPATH=str(current / "plugins"),
        # Parse often, and let a DAG that left its file go stale soon, so the checks below do not wait minutes.
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="5",
        AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD="5",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url,
    )
    proc, _output = start_airflow(env, PORT)
    password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    deploy_env = {**env, "DEPLOY_API_PASSWORD": password, "PYTHONPATH": str(REPO / "plugins")}
    try:
        yield root, bundle, deploy_env, password
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=180)


def _served(password: str) -> dict[str, Any]:
    return AirflowRest(f"http://127.0.0.1:{PORT}", password).dags()


def _webhook_posts(text: str) -> list[dict[str, Any]]:
    posts = requests.get(f"{os.environ['STACK_WEBHOOK_SINK_URL']}/_posts", timeout=10).json()
    return [post for post in posts if text in json.dumps(post)]


def test_deploy_adds_a_source_and_rolls_back_a_release_whose_smoke_run_fails(deployed_airflow: Any) -> None:
    root, bundle, env, password = deployed_airflow
    run = uuid.uuid4().hex[:8]
    engine = control_engine()

    # 1. The first deployment through the script.
    first = _checkout(root / "v1")
    done = _deploy(env, first, bundle.root, f"v1-{run}")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "platform_smoke_check run" in done.stdout
    assert ": success" in done.stdout
    v1 = bundle.current()
    assert v1 is not None
    assert v1.name.endswith(f"v1-{run}")

    # 2. A release that adds a source: served, smoke-tested, and recorded with a diff naming only it.
    added = f"deploy{run}"
    second = _checkout(root / "v2")
    _add_source(second, added)
    done = _deploy(env, second, bundle.root, f"v2-{run}")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"change: + source {added} (entities: customers, orders)" in done.stdout
    v2 = bundle.current()
    assert v2 is not None
    assert v2.name.endswith(f"v2-{run}")
    assert {f"ingest_{added}", *SAMPLE_DAGS} <= set(_served(password))
    record = releases.history(engine, "dev")[0]
    assert (record.version, record.status, record.target) == (f"v2-{run}", releases.DEPLOYED, "local")
    assert record.approved_by == "release-approver"
    assert record.changes == {
        "sources_added": {added: ["customers", "orders"]},
        "sources_removed": {},
        "sources_changed": [],
    }
    assert "### Release" in done.stdout
    assert "| Status | deployed |" in done.stdout

    # 3. A release whose new source's connection does not exist here: the smoke run fails, and it is rolled back.
    broken = f"broken{run}"
    third = _checkout(root / "v3")
    _add_source(third, added)
    _add_source(third, broken, conn_id=f"missing_{run}")
    done = _deploy(env, third, bundle.root, f"v3-{run}")
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert "FAILED at smoke" in done.stdout
    assert "tasks not successful: post_alert, source_connections" in done.stdout
    assert "rolled back: waiting until the previous DAGs are served again" in done.stdout
    assert bundle.current() == v2
    served = _served(password)
    assert f"ingest_{broken}" not in served
    assert {f"ingest_{added}", *SAMPLE_DAGS} <= set(served)
    record = releases.history(engine, "dev")[0]
    assert (record.version, record.status) == (f"v3-{run}", releases.ROLLED_BACK)
    assert record.changes["sources_added"] == {broken: ["customers", "orders"]}
    assert "smoke" in record.detail
    assert "rolled back to the previous release" in record.detail
    assert _webhook_posts(f"Deployment of v3-{run} to dev failed at smoke; rolled back")
