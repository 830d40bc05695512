"""Shared test set-up: an isolated Airflow home, the local stack's connections, and CI's no-skip rule."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Airflow reads its configuration at import: point it at a throwaway home before anything imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-test-home-"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}")
sys.path.insert(0, str(REPO / "plugins"))


def _take_the_lanes_stack() -> None:
    """`make test` runs the suite in lanes (pytest-xdist workers), each against a local stack of its own, so a test
    that stops Kafka or fills the webhook sink cannot touch another lane's. INGEST_TEST_STACKS lists the stacks'
    state directories, one per worker. Here, at this conftest's import, the worker takes its stack's connections:
    before the integration conftest and any test module read them."""
    stacks = os.environ.get("INGEST_TEST_STACKS")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...: set before a worker imports conftests
    if not (stacks and worker):
        return
    from stack.connections import read_env_file

    state_dirs = stacks.split(os.pathsep)
    lane = int(worker.removeprefix("gw"))
    if lane >= len(state_dirs):
        raise RuntimeError(f"xdist worker {worker} has no stack: INGEST_TEST_STACKS lists {len(state_dirs)}")
    os.environ.update(read_env_file(Path(state_dirs[lane]) / "env"))


_take_the_lanes_stack()


# The slowest modules, slowest first (their times in a two-lane run: bench/README.md, "Test suite time"). The lanes
# take modules in collection order (`--no-loadscope-reorder`), so these start first and the many short modules fill
# in around them; left to the end, one of them would run alone while the other lane sat idle.
SLOWEST_MODULES = (
    "integration/test_scheduler_runs.py",
    "integration/test_scheduler_celery.py",
    "integration/pipeline/test_rest_and_file_runs.py",
    "integration/test_deploy_local.py",
    "integration/test_ui_browser.py",
    "integration/faults/test_fault_matrix.py",
    "integration/pipeline/test_partitioned_runs.py",
    "integration/test_demo.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The folder decides the marker, so `-m unit` / `-m integration` select exactly what they say.
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in {"unit", "integration", "dags"}:
            item.add_marker(getattr(pytest.mark, parts[0]))

    def rank(item: pytest.Item) -> int:
        module = Path(str(item.fspath)).relative_to(REPO / "tests").as_posix()
        return SLOWEST_MODULES.index(module) if module in SLOWEST_MODULES else len(SLOWEST_MODULES)

    items.sort(key=rank)  # stable: every module keeps its tests' order, and the rest keep theirs


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A skipped test proves nothing: in CI it fails the run.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"FAILED: {skipped} test(s) skipped; CI allows no skips", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
