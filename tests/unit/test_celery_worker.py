"""The platform's Celery settings: Airflow's own plus a module each worker imports once as it starts, which loads the
stages' libraries (and none of the platform's own modules, which a release switches under a running worker)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from ingestion.celery_worker import CELERY_CONFIG, PRELOAD_MODULE
from ingestion.worker_preload import PRELOADED_MODULES, preload

REPO = Path(__file__).resolve().parents[2]


def test_the_settings_are_airflows_plus_the_preload_module() -> None:
    assert {k: v for k, v in CELERY_CONFIG.items() if k != "imports"} == DEFAULT_CELERY_CONFIG
    assert CELERY_CONFIG["imports"] == (PRELOAD_MODULE,)


def test_the_preload_imports_every_listed_library_and_no_module_of_the_platform() -> None:
    # A fresh interpreter, as a worker starts: what importing the module loads.
    script = (
        "import json, sys; before = set(sys.modules); import ingestion.worker_preload; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "plugins"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert set(PRELOADED_MODULES) <= loaded, set(PRELOADED_MODULES) - loaded
    assert {m for m in loaded if m.startswith("ingestion")} == {"ingestion", PRELOAD_MODULE}


def test_a_missing_library_is_logged_and_the_others_still_load(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ingestion.worker_preload"):
        failed = preload(("json", "no_such_library_here", "csv"))
    assert failed == ["no_such_library_here"]
    assert "not preloaded: no_such_library_here (ModuleNotFoundError" in caplog.text
